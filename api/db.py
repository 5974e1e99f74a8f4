"""Async engine and sessions; one session per request, committed once before the response."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Request
from pydantic import AfterValidator
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

from api.state import sessionmaker_of

# Stable constraint names so Alembic migrations are reproducible on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata

# `session.info` key: the user a unit of work acts for, whom the history rows it writes (bug and
# expense activity) name. The current-user dependency sets it; so do a worker and the demo seed.
ACTOR_KEY = "actor_id"


def utcnow() -> datetime:
    return datetime.now(UTC)


def _assume_utc(value: datetime) -> datetime:
    """A time given without a zone, or a plain date (midnight), is taken as UTC: that is what
    someone typing ``2026-12-05`` into a filter means, and the database stores aware times only."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


UtcInput = Annotated[datetime, AfterValidator(_assume_utc)]
"""A datetime accepted from a request: ISO 8601 with or without a zone, or a date."""


class UTCDateTime(TypeDecorator[datetime]):
    """timestamptz on PostgreSQL; on SQLite, which forgets the zone, values are read back as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # Not `pool_pre_ping`: a round trip before every checkout costs ~8% of a bug-list page.
    # Only a connection idle for a while is pinged (see `_ping_if_idle`); one that dies while in
    # use fails its statement as a 503 and SQLAlchemy recycles the pool.
    engine = create_async_engine(url, pool_size=10, max_overflow=20)
    event.listen(engine.sync_engine, "do_connect", _connect_or_unavailable)
    event.listen(engine.sync_engine.pool, "checkin", _mark_idle)
    event.listen(engine.sync_engine.pool, "checkout", _ping_if_idle(engine.dialect))
    return engine


IDLE_PING_AFTER_S = 30.0
"""A pooled connection unused for longer is pinged before it is handed out: that is when
PgBouncer, a NAT or `idle_session_timeout` drop connections, silently. Under steady traffic
connections are reused far sooner and cost no ping."""
_IDLE_SINCE = "nimbus_idle_since"


def _mark_idle(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _ping_if_idle(
    dialect: Dialect,
) -> Callable[[Any, ConnectionPoolEntry, PoolProxiedConnection], None]:
    def checkout(
        dbapi_connection: Any, record: ConnectionPoolEntry, _: PoolProxiedConnection
    ) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since <= IDLE_PING_AFTER_S:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool replaces the connection and tries again
            raise DisconnectionError(f"pooled connection was dropped while idle: {exc}") from exc

    return checkout


def _connect_or_unavailable(
    dialect: Dialect, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
) -> Any:
    """Open a DBAPI connection; any failure to connect becomes an OperationalError.

    When the server is away asyncpg raises plain OSError (ConnectionRefusedError, TimeoutError),
    which SQLAlchemy passes through unwrapped, and while it shuts down or starts up it raises
    CannotConnectNowError, which SQLAlchemy wraps as a generic DBAPIError. Either way requests
    would be 500s instead of the 503 "database unavailable" that OperationalError renders as.
    """
    try:
        return dialect.connect(*cargs, **cparams)
    except (OSError, dialect.loaded_dbapi.Error) as exc:
        raise OperationalError("connect", {}, exc) from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commit once when the handler succeeded, else roll back."""
    async with sessionmaker_of(request.app)() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()
