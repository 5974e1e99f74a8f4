"""Live output handling shared by the backends: UTF-8 decoding, coalescing into events, and one
byte budget that counts the output as it is stored, events included."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import time

from executor.backends.base import OutputSink, StreamName

WINDOW_S = 0.05
"""Output waits at most this long to be joined with more output of its stream into one event."""
SLOW_WINDOW_S = 1.0
"""The window once a job has used half its events: a chatty job streams less often."""
CHUNK_BYTES = 64 * 1024
"""A stream holding this much pending output becomes an event at once."""
MAX_EVENTS = 2000
"""Output events one job may produce; the last few are kept for the end of the run."""
EVENT_COST_BYTES = 128
"""What one output event costs of the job's output budget beyond its text: its row, key, index
entry and JSON wrapper, rounded up. The first event of each stream is free, so a tiny budget can
still show a line."""


def stored_size(text: str) -> int:
    """Bytes ``text`` takes as an event's JSON string (UTF-8, escapes included, quotes not).

    Always at least the UTF-8 size of ``text``, which is what the job's stdout/stderr keep."""
    return len(json.dumps(text, ensure_ascii=False).encode()) - 2


def _fitting_prefix(text: str, budget: int) -> str:
    """The longest prefix of ``text`` whose `stored_size` is at most ``budget``."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if stored_size(text[:middle]) <= budget:
            low = middle
        else:
            high = middle - 1
    return text[:low]


class OutputCollector:
    """Keeps stdout and stderr and forwards them live as events, within one byte budget.

    The budget (``limit``) counts the output as stored: each chunk's `stored_size` plus
    `EVENT_COST_BYTES` per event after the first of each stream. So a job's stored output — the
    stdout/stderr it keeps, plus its output events with their row overhead — is at most
    2 x ``limit`` + 2 x `EVENT_COST_BYTES`, however the program writes. Output beyond the
    budget is dropped, the stream that overflowed is flagged truncated and `overflowed` is set.

    Output is coalesced per stream: what a stream writes within `WINDOW_S` of its first pending
    byte (or until `CHUNK_BYTES` are pending) is one sink call, so a program writing one byte at
    a time, alternating stdout and stderr, makes two events per window, not one per byte. The
    streams are flushed in the order their pending output began: interleaving is kept at the
    window's resolution. At most `MAX_EVENTS` sink calls are made; past half of them the window
    grows to `SLOW_WINDOW_S`, and near the end output is held until `finish`.

    Decoding is incremental, so a multi-byte character split across chunks is not mangled;
    invalid UTF-8 and NUL become U+FFFD.
    """

    def __init__(
        self,
        limit: int,
        sink: OutputSink | None,
        *,
        window_s: float = WINDOW_S,
        slow_window_s: float = SLOW_WINDOW_S,
        max_events: int = MAX_EVENTS,
    ) -> None:
        self._remaining = limit
        self._sink = sink
        self._window_s = window_s
        self._slow_window_s = slow_window_s
        self._max_events = max(4, max_events)
        self._decoders = {
            name: codecs.getincrementaldecoder("utf-8")(errors="replace")
            for name in ("stdout", "stderr")
        }
        self._text: dict[StreamName, list[str]] = {"stdout": [], "stderr": []}
        self._pending: dict[StreamName, list[str]] = {}
        """Streams with output not yet sent, in the order it began (dicts keep insertion)."""
        self._pending_size: dict[StreamName, int] = {}
        self._pending_since = 0.0
        self._opened: set[StreamName] = set()
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self._finished = False
        self.events = 0
        """Sink calls made so far (each becomes at most one stored event)."""
        self.truncated: dict[StreamName, bool] = {"stdout": False, "stderr": False}
        self.overflowed = asyncio.Event()
        """Set once output went past the cap (the caller then kills the program)."""

    @property
    def exceeded(self) -> bool:
        return self.truncated["stdout"] or self.truncated["stderr"]

    async def feed(self, stream: StreamName, data: bytes) -> None:
        if self._finished:
            return
        if self._remaining <= 0:
            if data:
                self._overflow(stream)
            return
        self._accept(stream, self._decoders[stream].decode(data))
        if any(size >= CHUNK_BYTES for size in self._pending_size.values()):
            if self._may_flush_live():
                async with self._lock:
                    await self._flush()
        elif self._pending and self._timer is None and self._may_flush_live():
            self._timer = asyncio.create_task(self._flush_later())

    async def finish(self) -> None:
        """Send everything pending; the collector takes no more output after this."""
        async with self._lock:
            if self._timer is not None:  # asleep or waiting for the lock: nothing half-sent
                self._timer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._timer
                self._timer = None
            if not self._finished and self._remaining > 0:
                streams: tuple[StreamName, ...] = ("stdout", "stderr")
                for stream in streams:
                    self._accept(stream, self._decoders[stream].decode(b"", final=True))
            self._finished = True
            await self._flush()

    def text(self, stream: StreamName) -> str:
        return "".join(self._text[stream])

    def _overflow(self, stream: StreamName) -> None:
        self.truncated[stream] = True
        self._remaining = 0
        self.overflowed.set()

    def _accept(self, stream: StreamName, text: str) -> None:
        """Keep as much of ``text`` as the budget allows and queue it for the sink."""
        if not text:
            return
        # NUL is valid UTF-8, but no PostgreSQL text can hold it: the output could not be stored
        # and the job ended in error. Shown like any byte we cannot render.
        text = text.replace("\x00", "\ufffd")
        opens = stream not in self._pending
        cost = EVENT_COST_BYTES if opens and stream in self._opened else 0
        budget = self._remaining - cost
        size = stored_size(text)
        cut = size > budget
        if cut:
            text = _fitting_prefix(text, budget) if budget > 0 else ""
            size = stored_size(text)
        if text:
            if opens:
                self._opened.add(stream)
                if not self._pending:
                    self._pending_since = time.monotonic()
                self._pending[stream] = []
                self._pending_size[stream] = 0
            self._remaining -= cost + size
            self._pending[stream].append(text)
            self._pending_size[stream] += size
            self._text[stream].append(text)
        if cut:
            self._overflow(stream)

    def _may_flush_live(self) -> bool:
        # room for this flush (one event per stream) and for the two `finish` may need
        return self.events + 4 <= self._max_events

    def _window(self) -> float:
        return self._window_s if self.events < self._max_events // 2 else self._slow_window_s

    async def _flush_later(self) -> None:
        try:
            while self._pending:
                delay = self._pending_since + self._window() - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if not self._may_flush_live():
                    return  # held until `finish`
                async with self._lock:
                    if time.monotonic() >= self._pending_since + self._window():
                        await self._flush()
        finally:
            if self._timer is asyncio.current_task():
                self._timer = None

    async def _flush(self) -> None:
        pending, self._pending, self._pending_size = self._pending, {}, {}
        for stream, parts in pending.items():
            self.events += 1
            if self._sink is not None:
                await self._sink(stream, "".join(parts))
