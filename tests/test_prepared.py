"""`api.prepared`: the fast path returns what SQLAlchemy returns, and fails the way it fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, event, exc, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.models import Role, User
from api.prepared import PreparedSelect
from tests.conftest import MakeUser

USERS = PreparedSelect(
    select(
        col(User.id),
        col(User.email),
        col(User.role),
        col(User.is_active),
        col(User.created_at),
        col(User.full_name).label("name"),
    )
    .where(
        col(User.role).in_(bindparam("roles", expanding=True)),
        col(User.created_at) > bindparam("after"),
    )
    .order_by(col(User.id))
)


async def _through_sqlalchemy(db: AsyncSession, values: dict[str, object]) -> list[dict]:
    return [dict(r) for r in (await db.execute(USERS.stmt, values)).mappings()]


async def test_rows_are_what_sqlalchemy_returns(
    db: AsyncSession, make_user: MakeUser, database_url: str
) -> None:
    await make_user(Role.developer, full_name="Dev")
    await make_user(Role.tester, full_name="Tess")
    await make_user(Role.admin, full_name="Ada")
    await db.flush()
    long_ago = datetime.now(UTC) - timedelta(days=1)
    for roles in ([Role.developer], [Role.developer, Role.admin], [Role.tester]):
        values = {"roles": roles, "after": long_ago}
        rows = await USERS.all(db, values)
        assert rows == await _through_sqlalchemy(db, values)
        assert {r["role"] for r in rows} == set(roles)
    first = await USERS.first(db, {"roles": [Role.admin], "after": long_ago})
    assert first is not None and first["name"] == "Ada" and first["role"] == Role.admin
    assert await USERS.first(db, {"roles": [Role.admin], "after": datetime.now(UTC)}) is None


async def test_postgresql_rows_do_not_pass_through_sqlalchemy(
    db: AsyncSession, make_user: MakeUser, test_database: str, database_url: str
) -> None:
    await make_user(Role.developer)
    await db.flush()
    seen: list[str] = []
    engine = (await db.connection()).engine.sync_engine
    listener = lambda *args: seen.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
    event.listen(engine, "before_cursor_execute", listener)
    try:
        rows = await USERS.all(
            db, {"roles": [Role.developer], "after": datetime(2000, 1, 1, tzinfo=UTC)}
        )
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len(rows) == 1
    assert seen == ([] if test_database == "postgres" else [str(seen[0])])


async def test_a_failure_is_reported_as_sqlalchemy_reports_it(
    db: AsyncSession, make_user: MakeUser, database_url: str
) -> None:
    await make_user(Role.developer)
    await db.flush()
    # a naive datetime: UTCDateTime refuses it whichever path runs the statement
    with pytest.raises((exc.StatementError, ValueError)):
        await USERS.all(db, {"roles": [Role.developer], "after": datetime(2026, 1, 1)})
