"""Deliver side effects written to the outbox, with retries and exponential backoff.

A down SMTP server or webhook target delays delivery and loses nothing: a message is retried, with
a backoff that doubles up to MAX_BACKOFF, until its handler succeeds. The one way out without
delivery is a handler raising Undeliverable (e.g. the webhook was deleted or disabled): the message
is then kept, marked failed with the reason, and not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from sqlmodel import col

from api.db import utcnow
from api.models import OutboxMessage

log = logging.getLogger("nimbus.outbox")

Handler = Callable[[dict[str, Any]], Awaitable[None]]
MAX_BACKOFF = timedelta(hours=1)
# 2**12 s is past MAX_BACKOFF; capping the exponent keeps timedelta from overflowing after days.
_MAX_EXPONENT = 12


class Undeliverable(Exception):
    """Raised by a handler when its message can never be delivered: recorded as failed, not
    retried."""


_PENDING = "nimbus.outbox.pending"
# The drainers running in this process: woken when a transaction that enqueued commits.
_running: weakref.WeakSet[OutboxDrainer] = weakref.WeakSet()


def enqueue(session: AsyncSession, topic: str, payload: dict[str, Any]) -> None:
    """Add a message in the caller's transaction: it exists exactly when the change does."""
    session.add(OutboxMessage(topic=topic, payload=payload))
    session.info[_PENDING] = True


@event.listens_for(Session, "after_commit")
def _wake_drainers(session: Session) -> None:
    """Deliver right after the commit rather than at the next poll. Any session (a request's,
    a worker's) counts; a flag left by a rolled-back transaction costs one early poll at most."""
    if session.info.pop(_PENDING, False):
        for drainer in list(_running):
            drainer.wake()


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** min(attempts, _MAX_EXPONENT)), MAX_BACKOFF)


class OutboxDrainer:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        handlers: Mapping[str, Handler],
        *,
        poll_s: float = 2.0,
        batch: int = 20,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.handlers = handlers
        self.poll_s = poll_s
        self.batch = batch
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Safe from any thread; a no-op until run_forever runs."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run_once(self) -> int:
        """Deliver every due message once; returns how many were attempted."""
        async with self.sessionmaker() as session, session.begin():
            stmt = (
                select(OutboxMessage)
                .where(
                    col(OutboxMessage.done_at).is_(None),
                    col(OutboxMessage.next_attempt_at) <= utcnow(),
                )
                .order_by(col(OutboxMessage.id))
                .limit(self.batch)
            )
            if session.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)  # several drainers never share one
            messages = list((await session.scalars(stmt)).all())
            for message in messages:
                await self._deliver(message)
        return len(messages)

    async def _deliver(self, message: OutboxMessage) -> None:
        handler = self.handlers.get(message.topic)
        try:
            if handler is None:
                raise LookupError(f"no handler for topic {message.topic!r}")
            await handler(message.payload)
        except Undeliverable as exc:
            message.done_at = message.failed_at = utcnow()
            message.last_error = f"undeliverable: {exc}"[:2000]
            log.warning("outbox: message %s (%s) undeliverable: %s", message.id, message.topic, exc)
        except Exception as exc:  # a failed delivery is recorded and retried, whatever the cause
            message.attempts += 1
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            message.next_attempt_at = utcnow() + backoff(message.attempts)
            log.warning(
                "outbox: message %s (%s) failed, retry %s in %s: %s",
                message.id,
                message.topic,
                message.attempts,
                backoff(message.attempts),
                exc,
            )
        else:
            message.done_at = utcnow()

    async def run_forever(self) -> None:
        self._loop = asyncio.get_running_loop()
        _running.add(self)
        try:
            while True:
                try:
                    while await self.run_once():
                        pass
                except Exception:  # keep draining after a database hiccup
                    log.exception("outbox: drain failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_s)
                self._wake.clear()
        finally:
            _running.discard(self)
