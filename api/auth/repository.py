"""Queries for users' credentials, refresh tokens, PATs and login failures."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import configure_mappers, make_transient_to_detached
from sqlalchemy.orm.util import identity_key
from sqlmodel import col

from api.models import LoginFailure, PersonalAccessToken, RefreshToken, User
from api.pagination import PageParams, creation_order, paginate
from api.prepared import PreparedSelect

_USER_BY_ID = PreparedSelect(
    select(*User.__table__.columns).where(col(User.id) == bindparam("user_id"))  # type: ignore[attr-defined]
)


async def user_by_id(session: AsyncSession, user_id: int) -> User | None:
    """The user every authenticated request looks up, as a prepared statement: loading it as
    an ORM entity cost a quarter of a `GET /users/me`. The row becomes a `User` of the
    session (persistent and unchanged, as if the ORM had loaded it), so services edit it and
    the request's commit writes it as before."""
    found = session.sync_session.identity_map.get(identity_key(User, user_id))
    if isinstance(found, User):
        return found
    row = await _USER_BY_ID.first(session, {"user_id": user_id})
    if row is None:
        return None
    return _as_loaded(session, row)


def _as_loaded(session: AsyncSession, row: dict[str, Any]) -> User:
    """What the ORM makes of a row it loads: an instance built without validation (the row is
    the database's), its every column set and unchanged, persistent in ``session``."""
    user: User = _user_manager().new_instance()
    user.__dict__.update(row)
    make_transient_to_detached(user)
    session.add(user)
    return user


@functools.cache
def _user_manager() -> Any:
    configure_mappers()  # an instance can be made only once the mappers are
    return sa_inspect(User).class_manager


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(col(User.email) == email.lower()))


async def any_user(session: AsyncSession) -> bool:
    return bool(await session.scalar(select(exists().select_from(User))))


async def refresh_token_by_hash(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    return await session.scalar(
        select(RefreshToken).where(col(RefreshToken.token_hash) == token_hash)
    )


async def spend_refresh_token(session: AsyncSession, token_id: int, now: datetime) -> bool:
    """Mark a token spent; False when someone else spent it first (a concurrent reuse)."""
    result = await session.execute(
        update(RefreshToken)
        .where(
            col(RefreshToken.id) == token_id,
            col(RefreshToken.spent_at).is_(None),
            col(RefreshToken.revoked_at).is_(None),
        )
        .values(spent_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def revoke_family(session: AsyncSession, family_id: str, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


async def revoke_user_refresh_tokens(session: AsyncSession, user_id: int, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.user_id) == user_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


async def revoke_user_pats(session: AsyncSession, user_id: int, now: datetime) -> None:
    await session.execute(
        update(PersonalAccessToken)
        .where(
            col(PersonalAccessToken.user_id) == user_id,
            col(PersonalAccessToken.revoked_at).is_(None),
        )
        .values(revoked_at=now)
    )


async def carry_pats_over(
    session: AsyncSession, user_id: int, old_epoch: int, new_epoch: int
) -> int:
    """Move the user's live PATs of ``old_epoch`` to ``new_epoch``; how many there were."""
    result = await session.execute(
        update(PersonalAccessToken)
        .where(
            col(PersonalAccessToken.user_id) == user_id,
            col(PersonalAccessToken.revoked_at).is_(None),
            col(PersonalAccessToken.session_epoch) == old_epoch,
        )
        .values(session_epoch=new_epoch)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def pat_with_user(
    session: AsyncSession, token_hash: str
) -> tuple[PersonalAccessToken, User] | None:
    row = (
        await session.execute(
            select(PersonalAccessToken, User)
            .join(User, col(User.id) == PersonalAccessToken.user_id)
            .where(col(PersonalAccessToken.token_hash) == token_hash)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def list_pats(
    session: AsyncSession, user_id: int, session_epoch: int, params: PageParams
) -> tuple[list[PersonalAccessToken], str | None]:
    """The user's PATs that still work: not revoked, of the account's current epoch."""
    key = creation_order(params.sort, col(PersonalAccessToken.id))
    stmt = select(PersonalAccessToken).where(
        col(PersonalAccessToken.user_id) == user_id,
        col(PersonalAccessToken.revoked_at).is_(None),
        col(PersonalAccessToken.session_epoch) == session_epoch,
    )
    return await paginate(session, stmt, key, params)


async def delete_pat(session: AsyncSession, user_id: int, token_id: int) -> bool:
    result = await session.execute(
        delete(PersonalAccessToken).where(
            col(PersonalAccessToken.id) == token_id,
            col(PersonalAccessToken.user_id) == user_id,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Recent:
    count: int
    oldest: datetime
    newest: datetime


async def recent_events(
    session: AsyncSession,
    subjects: tuple[str, ...],
    since: datetime,
    *,
    excluding: Sequence[int] = (),
) -> dict[str, Recent]:
    """For each of ``subjects`` with rows since ``since``, but for the rows ``excluding``: how
    many, the oldest and the newest (one statement for all of them: a sign-in asks for three)."""
    query = (
        select(
            col(LoginFailure.subject),
            func.count(),
            func.min(LoginFailure.created_at),
            func.max(LoginFailure.created_at),
        )
        .where(col(LoginFailure.subject).in_(subjects), col(LoginFailure.created_at) >= since)
        .group_by(LoginFailure.subject)
    )
    if excluding:
        query = query.where(col(LoginFailure.id).not_in(excluding))
    rows = await session.execute(query)
    return {subject: Recent(int(n), oldest, newest) for subject, n, oldest, newest in rows}


async def forget_failures_by_id(session: AsyncSession, ids: Sequence[int]) -> None:
    if ids:
        await session.execute(delete(LoginFailure).where(col(LoginFailure.id).in_(ids)))


async def forget_failures(session: AsyncSession, subject: str) -> None:
    await session.execute(delete(LoginFailure).where(col(LoginFailure.subject) == subject))


async def prune_failures(
    session: AsyncSession, subjects: tuple[str, ...], before: datetime
) -> None:
    await session.execute(
        delete(LoginFailure).where(
            col(LoginFailure.subject).in_(subjects), col(LoginFailure.created_at) < before
        )
    )
