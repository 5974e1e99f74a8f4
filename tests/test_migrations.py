"""Migrations and models agree, and upgrade -> downgrade -> upgrade works on both databases."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect

from alembic import command
from api import migrations
from api.db import create_engine


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def fresh_database_url(request, pg_cluster, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
    name = f"migrations_{abs(hash(str(tmp_path))) % 10**8}"
    pg_cluster.psql(f"CREATE DATABASE {name}")
    return pg_cluster.url(name)


def test_round_trip_and_models_match(fresh_database_url):
    migrations.upgrade(fresh_database_url)
    command.check(migrations.alembic_config(fresh_database_url))  # raises on any drift
    created = asyncio.run(_tables(fresh_database_url))
    assert {"user_account", "project", "project_member", "refresh_token"} <= created
    migrations.downgrade(fresh_database_url)
    assert asyncio.run(_tables(fresh_database_url)) <= {"alembic_version"}
    migrations.upgrade(fresh_database_url)
    assert asyncio.run(_tables(fresh_database_url)) == created
