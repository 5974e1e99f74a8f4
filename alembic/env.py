"""Alembic environment: async, URL from Nimbus settings, batch mode so SQLite can ALTER."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SAWarning
from sqlalchemy.ext.asyncio import AsyncEngine

import api.models  # noqa: F401  (registers every table on the metadata)
from alembic import context
from api.config import get_settings
from api.db import create_engine, metadata

config = context.config

# Database-maintained objects that exist only on PostgreSQL (full-text search); the models do not
# declare them, so autogenerate and `alembic check` must not see them as drift.
POSTGRES_ONLY = {"search_vector", "ix_bug_search_vector", "ix_comment_search_vector"}


def _include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return name not in POSTGRES_ONLY


def _configure(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=sqlite,
        transactional_ddl=True,  # on SQLite too: see `_sqlite_migration_engine`
        compare_type=True,
        include_object=_include_object,
    )
    with context.begin_transaction(), warnings.catch_warnings():
        # SQLite's reflection skips expression indexes (uq_expense_category_level_name), so
        # autogenerate cannot compare them there; PostgreSQL's compares them. The same blind
        # spot means a batch rebuild of expense_category on SQLite would drop that index
        # silently: recreate it in such a migration (test_colliding_category_names_... checks
        # the index holds at head).
        warnings.filterwarnings(
            "ignore", "Skipped unsupported reflection of expression-based index", SAWarning
        )
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        context.run_migrations()


def _sqlite_migration_engine(url: str) -> AsyncEngine:
    """An engine whose SQLite connections run every migration of a run in one transaction.

    The driver begins transactions itself, only before INSERT/UPDATE/DELETE, so a batch rebuild's
    CREATE TABLE committed on its own: a migration failing halfway left ``_alembic_tmp_*``
    tables that failed every retry. With the driver's handling off and our own BEGIN, a failure
    rolls everything back. Foreign keys are switched off first, outside any transaction (SQLite
    ignores the pragma inside one): a rebuild drops and recreates parent tables, which would
    cascade into their children. So on SQLite no migration sees ON DELETE actions or
    foreign-key errors: a data migration that deletes parents must delete their children."""
    engine = create_engine(url)

    @event.listens_for(engine.sync_engine, "connect")
    def _own_transactions(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.close()
        dbapi_connection.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine


async def _run_online() -> None:
    url = config.attributes.get("database_url") or get_settings().effective_database_url
    engine = _sqlite_migration_engine(url) if url.startswith("sqlite") else create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.attributes.get("database_url") or get_settings().effective_database_url,
        target_metadata=metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
    else:
        asyncio.run(_run_online())
