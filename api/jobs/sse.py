"""A job's events as a Server-Sent Events stream: replay after Last-Event-ID, then live.

Each event is `id: <seq>`, `event: <kind>`, `data: <json>`. The stream ends after the `exit`
event, so a finished job's stream is its full replay. While waiting it sleeps on the job's topic
(woken by the worker's commits, here or via LISTEN/NOTIFY), polls as a fallback, and sends a
comment line every keep-alive interval so proxies keep the connection open.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.jobs import repository
from api.jobs.signals import SHUTDOWN, job_topic, signals
from api.models import JobEvent

BATCH = 500
RETRY_MS = 2000


def format_event(event: JobEvent) -> str:
    return f"id: {event.seq}\nevent: {event.kind}\ndata: {event.data}\n\n"


async def event_stream(
    sessionmaker: async_sessionmaker[AsyncSession],
    job_id: uuid.UUID,
    after: int,
    *,
    keepalive_s: float,
    poll_s: float,
    closing: asyncio.Event | None = None,
) -> AsyncIterator[str]:
    """Ends after the `exit` event, or after sending what is stored once ``closing`` is set
    (server shutdown): the client reconnects with `Last-Event-ID` and misses nothing."""
    yield f"retry: {RETRY_MS}\n\n"
    last_write = time.monotonic()
    with signals.watch(job_topic(job_id), SHUTDOWN) as wake:
        while True:
            wake.clear()
            async with sessionmaker() as session:
                newest = await repository.job_progress(session, job_id)
                if newest is None:  # the job was deleted meanwhile
                    return
                events = (
                    await repository.events_after(session, job_id, after, BATCH)
                    if newest > after
                    else []
                )
            for event in events:
                yield format_event(event)
                after = event.seq
                if event.kind == "exit":
                    return
            if events:
                last_write = time.monotonic()
                if len(events) == BATCH:
                    continue
            if closing is not None and closing.is_set():
                return
            idle = time.monotonic() - last_write
            if idle >= keepalive_s:
                yield ": keep-alive\n\n"
                last_write = time.monotonic()
                idle = 0.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), min(poll_s, keepalive_s - idle))
