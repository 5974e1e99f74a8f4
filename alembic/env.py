"""Alembic environment: async, URL from Nimbus settings, batch mode so SQLite can ALTER."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Connection

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
    if sqlite:
        # Batch migrations rebuild a table (copy, drop, rename); with foreign keys on, dropping a
        # parent would cascade-delete its children. SQLite ignores this inside a transaction.
        # So on SQLite no migration sees ON DELETE actions or foreign-key errors: a data
        # migration that deletes parents must delete their children itself.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=sqlite,
        compare_type=True,
        include_object=_include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")


async def _run_online() -> None:
    url = config.attributes.get("database_url") or get_settings().effective_database_url
    engine = create_engine(url)
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
