"""The connection pool on a real PostgreSQL: a connection the server dropped while it sat idle
in the pool is replaced before use, not handed to a request that would then fail."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from api import db
from tests.support.postgres import Cluster


async def _dropped_idle_connection(engine, cluster: Cluster) -> None:
    """Leave one connection idle in the pool, then have the server end it (as PgBouncer's
    `server_idle_timeout` or a NAT would)."""
    async with engine.connect() as conn:
        pid = await conn.scalar(text("SELECT pg_backend_pid()"))
    cluster.psql(f"SELECT pg_terminate_backend({pid})")


async def test_a_connection_dropped_while_idle_is_replaced_before_use(
    pg_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"nimbus_pool_{uuid.uuid4().hex[:8]}"
    pg_cluster.psql(f"CREATE DATABASE {name}")
    engine = db.create_engine(pg_cluster.url(name))
    try:
        # not idle long enough to be pinged: the dead connection reaches the caller
        monkeypatch.setattr(db, "IDLE_PING_AFTER_S", 3600.0)
        await _dropped_idle_connection(engine, pg_cluster)
        with pytest.raises(DBAPIError) as failed:
            async with engine.connect() as conn:
                await conn.scalar(text("SELECT 1"))
        assert failed.value.connection_invalidated

        # idle past the threshold: pinged on checkout, found dead, replaced
        monkeypatch.setattr(db, "IDLE_PING_AFTER_S", 0.0)
        await _dropped_idle_connection(engine, pg_cluster)
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()
