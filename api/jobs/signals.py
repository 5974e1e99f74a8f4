"""Wake-ups for job watchers and workers: in-process events, and PostgreSQL LISTEN/NOTIFY so that
a commit in one process wakes SSE streams, `?wait` requests and workers in every other process.

Topics are plain strings: `QUEUE` (a job was queued), `job_topic(id)` (a job has new events),
`end_topic(id)` (a job ended: all that a `?wait` request needs) and `cancel_topic(id)` (someone
asked to cancel a running job). A notification only says "look
again"; the database stays the source of truth, and every watcher also polls as a fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger(__name__)

CHANNEL = "nimbus_jobs"
QUEUE = "queue"
SHUTDOWN = "shutdown"
"""Fired (in this process only) when the server begins a graceful shutdown: long waits look at
their app's `closing` event and end instead of holding the shutdown up."""
_PENDING = "nimbus_job_topics"


def job_topic(job_id: uuid.UUID) -> str:
    return f"job:{job_id}"


def end_topic(job_id: uuid.UUID) -> str:
    return f"end:{job_id}"


def cancel_topic(job_id: uuid.UUID) -> str:
    return f"cancel:{job_id}"


class Signals:
    """Topic -> the asyncio events of everyone watching it, in this process."""

    def __init__(self) -> None:
        self._watchers: dict[str, set[asyncio.Event]] = {}

    @contextlib.contextmanager
    def watch(self, *topics: str, wake: asyncio.Event | None = None) -> Iterator[asyncio.Event]:
        """An event set whenever one of ``topics`` fires while the block runs.

        Subscribe *before* reading the state you wait on, so no wake-up falls in between.
        """
        wake = wake or asyncio.Event()
        for topic in topics:
            self._watchers.setdefault(topic, set()).add(wake)
        try:
            yield wake
        finally:
            for topic in topics:
                watchers = self._watchers.get(topic)
                if watchers is not None:
                    watchers.discard(wake)
                    if not watchers:
                        del self._watchers[topic]

    def fire(self, topic: str) -> None:
        for wake in self._watchers.get(topic, ()):
            wake.set()

    def watched(self) -> int:
        return sum(len(w) for w in self._watchers.values())


signals = Signals()


async def publish(session: AsyncSession, *topics: str) -> None:
    """Wake the watchers of ``topics`` once ``session`` commits, here and (on PostgreSQL) in
    every other process; nothing is sent if it rolls back."""
    if not topics:
        return
    session.info.setdefault(_PENDING, set()).update(topics)
    if session.get_bind().dialect.name == "postgresql":  # one statement for all of them
        await session.execute(select(*(func.pg_notify(CHANNEL, topic) for topic in topics)))


@event.listens_for(Session, "after_commit")
def _fire_pending(session: Session) -> None:
    for topic in session.info.pop(_PENDING, ()):
        signals.fire(topic)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction: SessionTransaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(_PENDING, None)


def asyncpg_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(False)


class PgListener:
    """LISTENs on one dedicated connection and fires notifications into `signals`.

    Reconnects after a lost connection; meanwhile watchers fall back to polling.
    """

    CHECK_INTERVAL_S = 5.0

    def __init__(self, database_url: str) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    async def start(self, timeout_s: float = 10.0) -> None:
        self._task = asyncio.create_task(self._run(), name="nimbus-pg-listener")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self.connected.wait()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        signals.fire(payload)

    async def _run(self) -> None:
        while True:
            conn: Any = None
            try:
                conn = await asyncpg.connect(self._dsn, timeout=10)
                await conn.add_listener(CHANNEL, self._on_notify)
                self.connected.set()
                while not conn.is_closed():
                    await asyncio.sleep(self.CHECK_INTERVAL_S)
                    await conn.execute("SELECT 1", timeout=self.CHECK_INTERVAL_S)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a lost connection must never end the listener
                log.warning("job notifications: listener connection lost (%s); reconnecting", exc)
            finally:
                self.connected.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 2)
            await asyncio.sleep(1.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
