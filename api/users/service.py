"""Account rules: profile edits, admin management, never leaving Nimbus without an admin."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import repository as auth_repository
from api.auth import service as auth_service
from api.auth.exceptions import EmailTaken
from api.auth.passwords import check_password
from api.auth.schemas import TokenPair
from api.bugs import repository as bugs_repository
from api.concurrency import AdvisoryLock, advisory_lock, lock_for_write
from api.config import Settings
from api.errors import Forbidden
from api.models import Role, User
from api.pagination import PageParams, paginate, resolve_sort
from api.permissions import has_permission
from api.security import hash_password
from api.users import repository
from api.users.exceptions import CurrentPasswordRequired, LastAdmin, UserNotFound
from api.users.schemas import MeUpdate, UserCreate, UserUpdate

USER_SORTS = {"id": User.id, "email": User.email, "created_at": User.created_at}


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise UserNotFound()
    return user


async def list_users(
    session: AsyncSession,
    params: PageParams,
    *,
    role: Role | None = None,
    is_active: bool | None = None,
    q: str | None = None,
) -> tuple[list[User], str | None]:
    key = resolve_sort(params.sort, USER_SORTS, tiebreak=User.id, default="id")
    return await paginate(
        session, repository.list_query(role=role, is_active=is_active, q=q), key, params
    )


async def create_user(session: AsyncSession, data: UserCreate) -> User:
    return await auth_service.create_user(
        session,
        email=str(data.email),
        password=data.password,
        full_name=data.full_name,
        role=data.role,
    )


@dataclass(frozen=True)
class ProfileUpdate:
    user: User
    session: TokenPair | None = None  # a new password's fresh session
    warnings: tuple[str, ...] = ()


async def update_me(
    session: AsyncSession, settings: Settings, user: User, data: MeUpdate, if_match: str | None
) -> ProfileUpdate:
    changes = data.model_dump(
        exclude_unset=True, exclude={"password", "current_password", "keep_tokens"}
    )
    if data.password is not None:
        check_password(
            data.password,
            email=str(data.email or user.email),
            full_name=data.full_name or user.full_name,
        )
    # argon2 (~20 ms each) before the row lock: on SQLite that lock is the database's write lock
    given = data.current_password
    verified = given is not None and await auth_service.password_matches(user, given)
    if _changes_secrets(user, data) and not verified:
        raise CurrentPasswordRequired()
    checked = user.password_hash
    new_hash = await hash_password(data.password) if data.password is not None else None
    await lock_for_write(session, user, if_match)
    # Decided again on the row as it is now: an admin may have changed the email meanwhile, and
    # putting the old one back is a change of email too.
    if _changes_secrets(user, data) and not verified:
        raise CurrentPasswordRequired()
    if verified and user.password_hash != checked:
        raise CurrentPasswordRequired("The password changed meanwhile; check it again")
    if data.email is not None:
        await _ensure_email_free(session, user, str(data.email))
        changes["email"] = str(data.email).lower()
    for field, value in changes.items():
        if value is not None:
            setattr(user, field, value)
    if new_hash is None:
        return ProfileUpdate(await _bump(session, user))
    kept = await auth_service.set_password_hash(
        session, user, new_hash, keep_tokens=data.keep_tokens
    )
    await _bump(session, user)
    warnings: tuple[str, ...] = ()
    if kept:
        tokens, work = ("token", "still works") if kept == 1 else ("tokens", "still work")
        warnings = (
            f"{kept} personal access {tokens} made before this change {work}, as you asked: "
            "revoke any that someone who knew the old password may have.",
        )
    return ProfileUpdate(user, await auth_service.new_session(session, settings, user), warnings)


def _changes_secrets(user: User, data: MeUpdate) -> bool:
    """A new password, or an email other than the one the user has: both need the password."""
    return data.password is not None or (
        data.email is not None and data.email.lower() != user.email
    )


async def update_user(
    session: AsyncSession, admin: User, user_id: int, data: UserUpdate, if_match: str | None
) -> User:
    user = await get_user(session, user_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if {"role", "is_active"} & changes.keys():
        # Before the row lock, so two such changes never hold each other's rows: two admins
        # demoting each other at once both counted two admins and left none.
        await advisory_lock(session, AdvisoryLock.admin_changes)
        await session.refresh(admin)  # an admin demoted while waiting for the lock may not
        if not (has_permission(admin.role, "users:manage") and admin.is_active):
            raise Forbidden("You are no longer an active administrator")
    await lock_for_write(session, user, if_match)
    if "email" in changes:
        await _ensure_email_free(session, user, str(changes["email"]))
        changes["email"] = str(changes["email"]).lower()
    loses_admin = (
        has_permission(user.role, "users:manage")
        and user.is_active
        and (
            not has_permission(changes.get("role", user.role), "users:manage")
            or changes.get("is_active", True) is False
        )
    )
    if loses_admin and await repository.count_active_admins(session) <= 1:
        raise LastAdmin()
    was_assignable = has_permission(user.role, "bugs:be_assigned") and user.is_active
    for field, value in changes.items():
        setattr(user, field, value)
    if changes.get("is_active") is False:
        await auth_service.deactivate_sessions(session, user)
    if was_assignable and not (has_permission(user.role, "bugs:be_assigned") and user.is_active):
        assert user.id is not None
        await bugs_repository.release_person(session, user.id, None)  # assignees: developers
    return await _bump(session, user)


async def deactivate_user(
    session: AsyncSession, admin: User, user_id: int, if_match: str | None
) -> User:
    """DELETE keeps the account's history (bugs, expenses) and only switches it off."""
    return await update_user(session, admin, user_id, UserUpdate(is_active=False), if_match)


async def _ensure_email_free(session: AsyncSession, user: User, email: str) -> None:
    other = await auth_repository.user_by_email(session, email)
    if other is not None and other.id != user.id:
        raise EmailTaken()


async def _bump(session: AsyncSession, user: User) -> User:
    await session.flush()  # the version column increments itself (see models.base.Versioned)
    return user
