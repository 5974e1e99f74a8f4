"""Concurrent writers: `version` columns exposed as ETags and checked against If-Match, row and
advisory locks, and inserts that may lose a race for a unique key."""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import Annotated, Any

from fastapi import Header, Response
from sqlalchemy import false, func, inspect, select, update
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import NotFound, PreconditionFailed, is_unique_violation
from api.models import User

IfMatch = Annotated[
    str | None,
    Header(description='ETag from a previous read, e.g. "3"; a stale one gets 412'),
]


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def check_if_match(if_match: str | None, version: int) -> None:
    """No header: last write wins (curl-friendly). A header that does not match: 412."""
    if if_match is None:
        return
    candidates = {c.strip().removeprefix("W/") for c in if_match.split(",")}
    if "*" in candidates or etag(version) in candidates:
        return
    raise PreconditionFailed(
        f"If-Match {if_match} does not match the current version {etag(version)}",
        extra={"current_version": version},
    )


async def lock_for_write(session: AsyncSession, row: Any, if_match: str | None = None) -> None:
    """Wait for any other writer of ``row``, reload it as they left it, then check If-Match.

    Every UPDATE of a versioned row also checks the version it read (`Versioned`). Without this
    lock, two writers that both read version 3 race, and the slower one failed with a 412 it
    never asked for: "no If-Match, last write wins" must hold under concurrency too, and an
    `add_labels` must never be lost to a parallel one.
    """
    if session.get_bind().dialect.name == "sqlite":
        # No row locks: a write that changes nothing takes SQLite's write lock (writers queue on
        # busy_timeout) and starts the transaction's snapshot, so the reload below is current.
        await session.execute(_unchanged(row))
    try:
        # PostgreSQL: FOR NO KEY UPDATE, the lock an UPDATE takes anyway. Plain FOR UPDATE
        # would also block inserts whose foreign keys name the row, and deadlock with them.
        await session.refresh(row, with_for_update={"key_share": True})
    except InvalidRequestError as exc:  # the row is gone: deleted while we waited
        raise NotFound("This item was deleted meanwhile") from exc
    check_if_match(if_match, row.version)


def _unchanged(row: Any) -> Any:
    table = row.__table__
    key = inspect(row).identity
    same = {c.name: c for c in table.c if c.name == "version" or c.onupdate is not None}
    return (
        update(table)
        .where(*(c == v for c, v in zip(table.primary_key.columns, key, strict=True)))
        .values(same)
    )


async def flush_new(session: AsyncSession, *rows: Any) -> bool:
    """Insert ``rows``; False when a concurrent request inserted the same unique key first.

    Check-then-insert (is the email, the key, the membership free?) races: both requests see it
    free and the second insert fails. In a savepoint that failure leaves the transaction usable
    and none of ``rows`` in the session, so the caller can answer as if it had seen the other
    row (409 with its own code, or "already there" for an idempotent PUT) instead of a 500."""
    return await _unless_taken(session, lambda: session.add_all(rows))


async def flush_change(session: AsyncSession, row: Any, **values: Any) -> bool:
    """Set ``values`` on ``row`` and write them; False (and ``row`` reloaded as it is) when a
    concurrent request took the unique key they name first (see `flush_new`)."""

    def change() -> None:
        for name, value in values.items():
            setattr(row, name, value)

    if await _unless_taken(session, change):
        return True
    await session.refresh(row)  # the rolled-back savepoint only expired it
    return False


async def _unless_taken(session: AsyncSession, change: Callable[[], None]) -> bool:
    await session.flush()  # what was pending before is not part of the race: its errors raise
    if session.get_bind().dialect.name == "sqlite":
        # pysqlite begins a transaction only before a write; a SAVEPOINT outside one would be a
        # transaction of its own, committed on release whatever the request does after.
        await session.execute(_SQLITE_WRITE_LOCK)
    try:
        async with session.begin_nested():
            change()
            await session.flush()
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        return False
    return True


class AdvisoryLock(IntEnum):
    """Transaction-scoped PostgreSQL advisory locks: for what no single row stands for."""

    job_submissions = 1  # per user (key: their id): the caps on queued and running jobs
    admin_changes = 2  # role and activation changes: "the last active admin" must stay true
    registrations = 3  # per client address (key: a hash of it): the self-registration cap


_ADVISORY_NAMESPACE = 4_207_000
"""Added to `AdvisoryLock` values: the first key of Nimbus's advisory locks."""


async def advisory_lock(session: AsyncSession, lock: AdvisoryLock, key: int = 0) -> None:
    """Hold ``lock`` for ``key`` until the transaction ends.

    SQLite has no such locks but runs one writer at a time: there this takes the write lock,
    which every ``lock`` and ``key`` then shares. It must be taken before the reads it guards:
    the driver begins a transaction only at the first write, so a count read before it may be
    stale by the time the row is inserted (eight parallel submissions all passed a cap of 3)."""
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(_SQLITE_WRITE_LOCK)
    else:
        await session.execute(select(func.pg_advisory_xact_lock(_ADVISORY_NAMESPACE + lock, key)))


_SQLITE_WRITE_LOCK = update(User).where(false()).values(id=User.id)
"""A write that changes nothing: SQLite begins a write transaction for it all the same."""
