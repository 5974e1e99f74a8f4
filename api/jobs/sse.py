"""A job's events as a Server-Sent Events stream: replay after Last-Event-ID, then live.

Each event is `id: <seq>`, `event: <kind>`, `data: <json>`. The stream ends after the `exit`
event, so a finished job's stream is its full replay.

Watchers of one job share one `JobFeed` in this process: a single task that wakes on the job's
topic (the worker's commits, here or via LISTEN/NOTIFY), polls as a fallback, reads what is new
once and keeps the newest events formatted in memory. Each stream only copies from there, so a
wake-up costs the database the same whether one client watches or a hundred; only a client
that is behind the kept events (a replay from the start of a long job) reads them itself, a
batch at a time. `StreamSlots` caps the streams in the process, per user and per job (429
beyond), so that streams cannot take the event loop from other requests, and a client
that does not take what is sent within the send timeout is dropped, freeing its slot.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from api.jobs import repository
from api.jobs.exceptions import TooManyStreams
from api.jobs.signals import SHUTDOWN, job_topic, signals
from api.models import JobEvent

log = logging.getLogger(__name__)

BATCH = 500
"""Events read from the database in one query."""
RETRY_MS = 2000
KEEP_EVENTS = 1000
KEEP_BYTES = 1024 * 1024
"""A feed keeps this many of the newest events (and about this many bytes) for its watchers."""
CHUNK_BYTES = 256 * 1024
"""A stream sends at most about this much in one write before looking again."""
STREAMS_RETRY_AFTER_S = 5


def format_event(event: JobEvent) -> str:
    return f"id: {event.seq}\nevent: {event.kind}\ndata: {event.data}\n\n"


class JobFeed:
    """The events of one job, read once for all its watchers in this process."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        job_id: uuid.UUID,
        poll_s: float,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.job_id = job_id
        self.poll_s = poll_s
        self.watchers = 0
        self.loaded = False
        """Whether the first read is done; until then `base` means nothing."""
        self.gone = False
        """The job was deleted."""
        self.base = 0
        """Every event after this number, up to `newest`, is in `_seqs`/`_texts`."""
        self.newest = 0
        self.exit_seq: int | None = None
        self._seqs: list[int] = []
        self._texts: list[str] = []
        self._bytes = 0
        self._changed = asyncio.Event()
        self.reads = 0
        """Database round trips made (a test counts them against the watchers)."""
        self._task: asyncio.Task[None] | None = None

    @property
    def changed(self) -> asyncio.Event:
        """Set at the next change: take it *before* looking, so no change falls in between."""
        return self._changed

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"job feed {self.job_id}")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def covers(self, after: int) -> bool:
        return self.loaded and after >= self.base

    def take(self, after: int) -> tuple[str, int, bool]:
        """What follows event ``after`` (at most about `CHUNK_BYTES`): the text, the number of
        its last event and whether that is the `exit` event. Requires `covers(after)`."""
        start = bisect.bisect_right(self._seqs, after)
        end, size = start, 0
        while end < len(self._seqs) and (end == start or size < CHUNK_BYTES):
            size += len(self._texts[end])
            end += 1
        if end == start:
            return "", after, False
        last = self._seqs[end - 1]
        return "".join(self._texts[start:end]), last, last == self.exit_seq

    async def _run(self) -> None:
        with signals.watch(job_topic(self.job_id), SHUTDOWN) as wake:
            while True:
                wake.clear()
                try:
                    await self._read()
                except Exception as exc:  # the database may be briefly away: poll again
                    log.warning("job %s: could not read its events (%s)", self.job_id, exc)
                self._notify()
                if self.gone or self.exit_seq is not None:
                    return  # nothing more can come
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.poll_s)

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _read(self) -> None:
        async with self.sessionmaker() as session:
            self.reads += 1
            newest = await repository.job_progress(session, self.job_id)
            if newest is None:
                self.gone = True
                return
            if not self.loaded:
                self.base = self.newest = max(0, newest - KEEP_EVENTS)
            while self.newest < newest:
                self.reads += 1
                events = await repository.events_after(session, self.job_id, self.newest, BATCH)
                if not events:
                    break
                for event in events:
                    self._keep(event)
        self.loaded = True
        self._trim()

    def _keep(self, event: JobEvent) -> None:
        text = format_event(event)
        self._seqs.append(event.seq)
        self._texts.append(text)
        self._bytes += len(text)
        self.newest = event.seq
        if event.kind == "exit":
            self.exit_seq = event.seq

    def _trim(self) -> None:
        drop = 0
        size = self._bytes
        while len(self._seqs) - drop > 1 and (
            len(self._seqs) - drop > KEEP_EVENTS or size > KEEP_BYTES
        ):
            size -= len(self._texts[drop])
            drop += 1
        if drop:
            self.base = self._seqs[drop - 1]
            del self._seqs[:drop], self._texts[:drop]
            self._bytes = size


class Slot:
    """One open stream: counted against its user and its job until released (once)."""

    def __init__(self, slots: StreamSlots, feed: JobFeed, user_id: int) -> None:
        self._slots = slots
        self.feed = feed
        self.user_id = user_id
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._slots.release(self)


class StreamSlots:
    """The event streams open in this process, their caps, and the feeds they share."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        total: int,
        per_user: int,
        per_job: int,
        poll_s: float,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.total = total
        self.per_user = per_user
        self.per_job = per_job
        self.poll_s = poll_s
        self.feeds: dict[uuid.UUID, JobFeed] = {}
        self.by_user: dict[int, int] = {}

    @property
    def open(self) -> int:
        return sum(self.by_user.values())

    def acquire(self, job_id: uuid.UUID, user_id: int) -> Slot:
        """A slot on the job's feed (started for its first watcher); `TooManyStreams` when
        the process, the user or the job already has as many streams as allowed."""
        if self.open >= self.total:
            raise TooManyStreams(
                STREAMS_RETRY_AFTER_S,
                f"this server has {self.open} event streams open (limit {self.total}); "
                "try again shortly",
            )
        streams = self.by_user.get(user_id, 0)
        if streams >= self.per_user:
            raise TooManyStreams(
                STREAMS_RETRY_AFTER_S,
                f"you have {streams} event streams open (limit {self.per_user}); "
                "close one or wait for its job to end",
            )
        feed = self.feeds.get(job_id)
        if feed is not None and feed.watchers >= self.per_job:
            raise TooManyStreams(
                STREAMS_RETRY_AFTER_S,
                f"this job has {feed.watchers} event streams open (limit {self.per_job})",
            )
        if feed is None:
            feed = self.feeds[job_id] = JobFeed(self.sessionmaker, job_id, self.poll_s)
            feed.start()
        feed.watchers += 1
        self.by_user[user_id] = streams + 1
        return Slot(self, feed, user_id)

    def release(self, slot: Slot) -> None:
        feed = slot.feed
        feed.watchers -= 1
        if feed.watchers <= 0 and self.feeds.get(feed.job_id) is feed:
            feed.stop()
            del self.feeds[feed.job_id]
        left = self.by_user.get(slot.user_id, 0) - 1
        if left > 0:
            self.by_user[slot.user_id] = left
        else:
            self.by_user.pop(slot.user_id, None)


async def event_stream(
    slot: Slot,
    after: int,
    *,
    keepalive_s: float,
    closing: asyncio.Event | None = None,
) -> AsyncIterator[str]:
    """Ends after the `exit` event, or after sending what is stored once ``closing`` is set
    (server shutdown): the client reconnects with `Last-Event-ID` and misses nothing."""
    feed = slot.feed
    try:
        yield f"retry: {RETRY_MS}\n\n"
        last_write = time.monotonic()
        while True:
            changed = feed.changed
            if feed.covers(after):
                text, after, ended = feed.take(after)
            elif feed.loaded:  # behind what the feed keeps: read it ourselves
                text, after, ended = await _read_behind(feed, after)
            else:
                text, ended = "", False
            if text:
                yield text
                if ended:
                    return
                last_write = time.monotonic()
                continue  # there may be more
            if feed.gone or (closing is not None and closing.is_set()):
                return
            idle = time.monotonic() - last_write
            if idle >= keepalive_s:
                yield ": keep-alive\n\n"
                last_write = time.monotonic()
                idle = 0.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), keepalive_s - idle)
    finally:
        slot.release()


async def _read_behind(feed: JobFeed, after: int) -> tuple[str, int, bool]:
    async with feed.sessionmaker() as session:
        events = await repository.events_after(session, feed.job_id, after, BATCH)
    if not events:
        return "", after, False
    return "".join(map(format_event, events)), events[-1].seq, events[-1].kind == "exit"


class EventStreamResponse(StreamingResponse):
    """An SSE response that holds a `Slot` until it ends however it ends, and drops a client
    that takes longer than ``send_timeout_s`` to accept a write (it can reconnect and resume)."""

    def __init__(
        self,
        content: AsyncIterator[str],
        slot: Slot,
        *,
        send_timeout_s: float,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self.slot = slot
        self.send_timeout_s = send_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slot.release()

    async def stream_response(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        body: Any = self.body_iterator
        try:
            async for chunk in body:
                data = chunk.encode(self.charset) if isinstance(chunk, str) else chunk
                try:
                    async with asyncio.timeout(self.send_timeout_s):
                        await send({"type": "http.response.body", "body": data, "more_body": True})
                except TimeoutError:
                    log.info("dropped an event stream whose client stopped reading")
                    return  # the server closes the connection
        finally:
            await body.aclose()
        await send({"type": "http.response.body", "body": b"", "more_body": False})
