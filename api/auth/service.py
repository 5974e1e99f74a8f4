"""Registration, login with rate limiting, refresh-token rotation, PATs, bearer authentication."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import repository
from api.auth.exceptions import (
    AccountInactive,
    EmailTaken,
    RefreshTokenReused,
    RegistrationClosed,
    TokenNotFound,
)
from api.auth.schemas import (
    PersonalAccessTokenCreate,
    PersonalAccessTokenCreated,
    PersonalAccessTokenRead,
    RegisterRequest,
    TokenPair,
)
from api.concurrency import AdvisoryLock, advisory_lock, flush_new
from api.config import Settings
from api.db import utcnow
from api.errors import InvalidCredentials, InvalidToken, TooManyRequests, UnprocessableEntity
from api.models import LoginFailure, PersonalAccessToken, RefreshToken, Role, User
from api.pagination import PageParams
from api.security import (
    PAT_PREFIX,
    create_access_token,
    decode_access_token,
    hash_password,
    new_opaque_token,
    token_digest,
    verify_password,
)

# A client address gets more attempts than one account: an office shares one address.
CLIENT_FAILURE_FACTOR = 4
# PAT last-used times are written at most this often, so reads do not all become writes.
PAT_TOUCH_INTERVAL = timedelta(minutes=1)


async def register(session: AsyncSession, settings: Settings, data: RegisterRequest) -> User:
    if settings.registration == "closed":
        raise RegistrationClosed()
    return await create_user(
        session,
        email=str(data.email),
        password=data.password,
        full_name=data.full_name,
        role=Role.admin if await _is_first_user(session) else Role.tester,
    )


async def _is_first_user(session: AsyncSession) -> bool:
    """Whether nobody has registered yet: the first account is the admin. Accounts are never
    deleted, so once one exists no lock is needed; until then registrations queue, or the
    first few registering at the same moment all became admins."""
    if await repository.any_user(session):
        return False
    await advisory_lock(session, AdvisoryLock.admin_changes)
    return not await repository.any_user(session)


async def create_user(
    session: AsyncSession, *, email: str, password: str, full_name: str, role: Role
) -> User:
    email = email.lower()
    if await repository.user_by_email(session, email):
        raise EmailTaken()
    user = User(
        email=email, full_name=full_name, password_hash=await hash_password(password), role=role
    )
    if not await flush_new(session, user):  # the same email registered at the same moment
        raise EmailTaken()
    return user


async def login(
    session: AsyncSession, settings: Settings, *, email: str, password: str, client: str
) -> TokenPair:
    email = email.strip().lower()
    subjects = (f"account:{email}", f"client:{client}")
    await _check_rate_limit(session, settings, subjects)
    user = await repository.user_by_email(session, email)
    if not await verify_password(password, user.password_hash if user else None) or user is None:
        await _record_failure(session, settings, subjects)
        raise InvalidCredentials()
    if not user.is_active:
        raise AccountInactive()
    await repository.forget_failures(session, subjects[0])
    return await _issue_pair(session, settings, user, family_id=uuid.uuid4().hex)


async def _check_rate_limit(
    session: AsyncSession, settings: Settings, subjects: tuple[str, str]
) -> None:
    now = utcnow()
    window = timedelta(seconds=settings.login_window_s)
    limits = (settings.login_max_failures, settings.login_max_failures * CLIENT_FAILURE_FACTOR)
    for subject, limit in zip(subjects, limits, strict=True):
        count, oldest = await repository.recent_failures(session, subject, now - window)
        if count >= limit and oldest is not None:
            retry_after = int((oldest + window - now).total_seconds()) + 1
            raise TooManyRequests(
                retry_after, f"Too many failed logins; try again in {retry_after} seconds"
            )


async def _record_failure(
    session: AsyncSession, settings: Settings, subjects: tuple[str, str]
) -> None:
    expired = utcnow() - timedelta(seconds=settings.login_window_s)
    await repository.prune_failures(session, subjects, expired)
    session.add_all(LoginFailure(subject=s) for s in subjects)
    # The request is about to fail with 401, which rolls the session back; the failures must
    # survive that, or the rate limit would never trigger. This is the one commit in a service.
    await session.commit()


async def refresh(session: AsyncSession, settings: Settings, refresh_token: str) -> TokenPair:
    now = utcnow()
    stored = await repository.refresh_token_by_hash(session, token_digest(refresh_token))
    if stored is None:
        raise InvalidToken("Unknown refresh token")
    if stored.spent_at is not None or stored.revoked_at is not None:
        await _revoke_family_and_commit(session, stored.family_id, now)
        raise RefreshTokenReused()
    if stored.expires_at <= now:
        raise InvalidToken("The refresh token has expired; sign in again")
    assert stored.id is not None
    if not await repository.spend_refresh_token(session, stored.id, now):
        await _revoke_family_and_commit(session, stored.family_id, now)
        raise RefreshTokenReused()
    user = await session.get(User, stored.user_id)
    if user is None or not user.is_active:
        raise InvalidToken("The account is no longer active")
    return await _issue_pair(session, settings, user, family_id=stored.family_id)


async def _revoke_family_and_commit(session: AsyncSession, family_id: str, now: datetime) -> None:
    await repository.revoke_family(session, family_id, now)
    # Committed before the 401 is raised: the revocation is the point of detecting reuse.
    await session.commit()


async def logout(session: AsyncSession, refresh_token: str) -> None:
    stored = await repository.refresh_token_by_hash(session, token_digest(refresh_token))
    if stored is not None:
        await repository.revoke_family(session, stored.family_id, utcnow())


async def _issue_pair(
    session: AsyncSession, settings: Settings, user: User, *, family_id: str
) -> TokenPair:
    assert user.id is not None
    access = create_access_token(
        user.id, settings.effective_secret_key, settings.access_token_ttl_s
    )
    refresh_token = new_opaque_token()
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id,
            token_hash=token_digest(refresh_token),
            expires_at=utcnow() + timedelta(seconds=settings.refresh_token_ttl_s),
        )
    )
    await session.flush()
    return TokenPair(
        access_token=access.token, expires_in=access.expires_in, refresh_token=refresh_token
    )


async def authenticate_bearer(session: AsyncSession, settings: Settings, token: str) -> User:
    """The active user behind a JWT access token or a personal access token."""
    if token.startswith(PAT_PREFIX):
        user = await _user_from_pat(session, token)
    else:
        user_id = decode_access_token(token, settings.effective_secret_key)
        user = await repository.user_by_id(session, user_id)
    if user is None or not user.is_active:
        raise InvalidToken()
    return user


async def _user_from_pat(session: AsyncSession, token: str) -> User | None:
    found = await repository.pat_with_user(session, token_digest(token))
    if found is None:
        return None
    pat, user = found
    now = utcnow()
    if pat.expires_at is not None and pat.expires_at <= now:
        raise InvalidToken("The personal access token has expired")
    if pat.last_used_at is None or now - pat.last_used_at > PAT_TOUCH_INTERVAL:
        pat.last_used_at = now
    return user


async def create_pat(
    session: AsyncSession, user: User, data: PersonalAccessTokenCreate
) -> PersonalAccessTokenCreated:
    if data.expires_at is not None:
        if data.expires_at.tzinfo is None:
            data.expires_at = data.expires_at.replace(tzinfo=UTC)
        if data.expires_at <= utcnow():
            raise UnprocessableEntity("expires_at must be in the future")
    assert user.id is not None
    token = new_opaque_token(PAT_PREFIX)
    pat = PersonalAccessToken(
        user_id=user.id,
        name=data.name,
        token_hash=token_digest(token),
        token_prefix=token[:10],
        expires_at=data.expires_at,
    )
    session.add(pat)
    await session.flush()
    return PersonalAccessTokenCreated(
        **PersonalAccessTokenRead.model_validate(pat).model_dump(), token=token
    )


async def list_pats(
    session: AsyncSession, user: User, params: PageParams
) -> tuple[list[PersonalAccessToken], str | None]:
    assert user.id is not None
    return await repository.list_pats(session, user.id, params)


async def delete_pat(session: AsyncSession, user: User, token_id: int) -> None:
    assert user.id is not None
    if not await repository.delete_pat(session, user.id, token_id):
        raise TokenNotFound()


async def set_password_hash(session: AsyncSession, user: User, password_hash: str) -> None:
    """Set a new password (hashed with `hash_password`) and end every refresh-token session of
    the account."""
    assert user.id is not None
    user.password_hash = password_hash
    await repository.revoke_user_refresh_tokens(session, user.id, utcnow())


async def deactivate_sessions(session: AsyncSession, user: User) -> None:
    assert user.id is not None
    await repository.revoke_user_refresh_tokens(session, user.id, utcnow())


async def password_matches(user: User, password: str) -> bool:
    return await verify_password(password, user.password_hash)
