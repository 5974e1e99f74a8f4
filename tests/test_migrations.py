"""Migrations and models agree, and upgrade -> downgrade -> upgrade works on both databases."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

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


def test_sqlite_rebuild_keeps_every_row_and_ids_are_never_reused(tmp_path):
    """The AUTOINCREMENT rebuild drops and recreates parent tables: children must survive it (with
    foreign keys on, the drop would cascade), and afterwards a deleted bug's id stays retired."""
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    migrations.upgrade(url, "5d2f0c8a7b41")
    now = "2026-12-05 08:00:00"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA foreign_keys=ON")
        db.execute(
            "INSERT INTO user_account VALUES"
            " (1, 1, 'a@example.com', 'Ann', 'x', 'admin', 1, 1, ?, ?)",
            (now, now),
        )
        db.execute("INSERT INTO project VALUES (1, 1, 'WEB', 'Web', '', ?, ?, 2)", (now, now))
        for number in (1, 2):
            db.execute(
                "INSERT INTO bug (version, id, project_id, number, title, description, status,"
                " priority, severity, reporter_id, created_at, updated_at)"
                " VALUES (1, ?, 1, ?, 't', '', 'open', 3, 'minor', 1, ?, ?)",
                (number, number, now, now),
            )
            db.execute(
                "INSERT INTO comment VALUES (1, ?, ?, 1, 'c', NULL, ?, ?)",
                (number, number, now, now),
            )
            db.execute(
                "INSERT INTO bug_activity (bug_id, actor_id, field, at) VALUES (?, 1, 'status', ?)",
                (number, now),
            )

    migrations.upgrade(url)

    with sqlite3.connect(path) as db:
        db.execute("PRAGMA foreign_keys=ON")
        counts = {t: _count(db, t) for t in ("user_account", "project", "bug", "comment")}
        assert counts == {"user_account": 1, "project": 1, "bug": 2, "comment": 2}
        assert _count(db, "bug_activity") == 2
        assert "AUTOINCREMENT" in _create_sql(db, "bug")
        assert "ix_bug_project_id_priority" in _index_names(db, "bug")  # indexes came along
        db.execute("DELETE FROM bug WHERE id = 2")
        db.execute(
            "INSERT INTO bug (version, project_id, number, title, description, status, priority,"
            " severity, reporter_id, created_at, updated_at)"
            " VALUES (1, 1, 3, 't', '', 'open', 3, 'minor', 1, ?, ?)",
            (now, now),
        )
        new_id = db.execute("SELECT max(id) FROM bug").fetchone()[0]
    assert new_id == 3  # not 2: the deleted bug's links must not name the new one

    migrations.downgrade(url, "5d2f0c8a7b41")
    with sqlite3.connect(path) as db:
        assert "AUTOINCREMENT" not in _create_sql(db, "bug")
        assert _count(db, "comment") == 1


def test_a_sqlite_migration_that_fails_halfway_leaves_the_database_as_it_was(tmp_path):
    """SQLite migrations run in one transaction: a rebuild failing at the 15th of 16 tables (a
    row that breaks a CHECK when copied) rolls back the 14 rebuilt before it, and once the row
    is fixed the same upgrade succeeds. The driver used to commit each DDL statement: the
    failure left half the tables rebuilt and an ``_alembic_tmp_expense`` that failed every retry."""
    path = tmp_path / "halfway.db"
    url = f"sqlite+aiosqlite:///{path}"
    migrations.upgrade(url, "5d2f0c8a7b41")
    now = "2026-12-05 08:00:00"
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO user_account VALUES"
            " (1, 1, 'a@example.com', 'Ann', 'x', 'admin', 1, 1, ?, ?)",
            (now, now),
        )
        db.execute("PRAGMA ignore_check_constraints=ON")  # as an old bug might have left it
        db.execute(
            "INSERT INTO expense VALUES (1, 1, 1, NULL, 1, -5, 'EUR', '', '2026-12-01', NULL,"
            " NULL, ?, ?)",
            (now, now),
        )
    before = _schema(path)

    with pytest.raises(IntegrityError, match="ck_expense_amount_positive"):
        migrations.upgrade(url)

    assert _schema(path) == before  # no table rebuilt, no _alembic_tmp_ table left
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == ("5d2f0c8a7b41",)
        assert _count(db, "user_account") == _count(db, "expense") == 1
        db.execute("UPDATE expense SET amount = 5")
    migrations.upgrade(url)
    with sqlite3.connect(path) as db:
        assert "AUTOINCREMENT" in _create_sql(db, "user_account")
        assert _count(db, "expense") == 1


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_colliding_category_names_are_renamed_not_lost(kind, pg_cluster, tmp_path):
    """Names the old UNIQUE (parent_id, name) let through (another case, or top level where
    parent_id is NULL) are renamed "(2)", "(3)" before the per-level index is built."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'categories.db'}"
    else:
        name = f"categories_{abs(hash(str(tmp_path))) % 10**8}"
        pg_cluster.psql(f"CREATE DATABASE {name}")
        url = pg_cluster.url(name)
    migrations.upgrade(url, "a7e3c9d41f20")
    now = "2026-12-05 08:00:00"
    # "travel" collides with the seeded "Travel" (id 1), "taxi" with "Taxi" (both under it)
    added = [("travel", None), ("TRAVEL (2)", None), ("Taxi", 1), ("taxi", 1)]
    added += [("L" * 100, None), ("l" * 100, None), ("Ärzte", None), ("ärzte", None)]
    asyncio.run(_insert_categories(url, added, now))
    # Non-ASCII letters are the same name only where the database's lower() says so (SQLite's
    # folds ASCII only): the index decides what collides, so the renaming must agree with it.
    umlauts_collide = asyncio.run(_scalar(url, "SELECT lower('Ä') = lower('ä')"))
    migrations.upgrade(url)
    names = asyncio.run(_category_names(url))
    assert names[0] == "Travel"  # the first of a name keeps it
    assert names[-8:] == [
        "travel (3)",  # "(2)" was taken
        "TRAVEL (2)",
        "Taxi",
        "taxi (2)",
        "L" * 100,
        "l" * 96 + " (2)",  # cut to fit the column
        "Ärzte",
        "ärzte (2)" if umlauts_collide else "ärzte",
    ]
    versions = asyncio.run(_scalar(url, "SELECT sum(version) FROM expense_category"))
    renamed = 3 + bool(umlauts_collide)
    assert versions == len(names) + renamed  # a renamed category's old ETag no longer matches
    with pytest.raises(IntegrityError):
        asyncio.run(_insert_categories(url, [("TAXI", 1)], now))
    with pytest.raises(IntegrityError):
        asyncio.run(_insert_categories(url, [("meals", None)], now))
    migrations.downgrade(url, "a7e3c9d41f20")


async def _insert_categories(url: str, rows, now: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for name, parent in rows:
                await conn.execute(
                    text(
                        "INSERT INTO expense_category (version, name, parent_id, created_at,"
                        " updated_at) VALUES (1, :name, :parent, :now, :now)"
                    ),
                    {"name": name, "parent": parent, "now": datetime.fromisoformat(now)},
                )
    finally:
        await engine.dispose()


async def _scalar(url: str, sql: str):
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(text(sql))
    finally:
        await engine.dispose()


async def _category_names(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT name FROM expense_category ORDER BY id"))
            return [name for (name,) in rows]
    finally:
        await engine.dispose()


def _schema(path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()


def _count(db: sqlite3.Connection, table: str) -> int:
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 (constants)


def _create_sql(db: sqlite3.Connection, table: str) -> str:
    return db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]


def _index_names(db: sqlite3.Connection, table: str) -> set[str]:
    rows = db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,)
    )
    return {name for (name,) in rows}
