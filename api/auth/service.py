"""Registration, login with rate limiting, refresh-token rotation, PATs, bearer authentication."""

from __future__ import annotations

import math
import uuid
import zlib
from dataclasses import dataclass
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
from api.auth.passwords import check_password
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
from api.permissions import FIRST_ACCOUNT_ROLE, NEW_ACCOUNT_ROLE
from api.security import (
    PAT_PREFIX,
    create_access_token,
    decode_access_token,
    hash_password,
    new_opaque_token,
    token_digest,
    verify_password,
)

# Failed sign-ins (settings.login_max_failures, the "free" ones, per account and client):
# A client address gets more attempts than one account: an office shares one address.
CLIENT_FAILURE_FACTOR = 4
# An account's failures from every client together, beyond which only clients that have not
# failed on it lately may try: an attack from many addresses gets one guess per address, and
# the owner, whose address has not failed, still signs in.
ACCOUNT_FAILURE_FACTOR = 10
# After the free failures of one (account, client), each next attempt from it waits this long
# after the last failure, twice as long after every further one (up to the window).
LOGIN_BACKOFF_S = 4
SUBJECT_MAX_LENGTH = 400  # LoginFailure.subject
SESSION_ENDED = "This session has ended (the password was changed or the account deactivated)"
# PAT last-used times are written at most this often, so reads do not all become writes.
PAT_TOUCH_INTERVAL = timedelta(minutes=1)


async def register(
    session: AsyncSession, settings: Settings, data: RegisterRequest, *, client: str
) -> User:
    """A self-registration, at most `registration_max_per_client` per client and window."""
    if settings.registration == "closed":
        raise RegistrationClosed()
    subject = _subject("registration", client)
    await _check_registration_limit(session, settings, subject)  # cheap, before argon2
    email = str(data.email).lower()
    check_password(data.password, email=email, full_name=data.full_name)
    password_hash = await hash_password(data.password)
    # Registrations from one client queue here, so a burst cannot all pass the count at once
    # (on SQLite this is the database's write lock, taken after argon2 ran).
    await advisory_lock(session, AdvisoryLock.registrations, zlib.crc32(subject.encode()) >> 1)
    now = await _check_registration_limit(session, settings, subject)
    user = await _insert_user(
        session,
        email=email,
        password_hash=password_hash,
        full_name=data.full_name,
        role=FIRST_ACCOUNT_ROLE if await _is_first_user(session) else NEW_ACCOUNT_ROLE,
    )
    window = timedelta(seconds=settings.registration_window_s)
    await repository.prune_failures(session, (subject,), now - window)
    session.add(LoginFailure(subject=subject))  # committed with the account, or not at all
    return user


async def _check_registration_limit(
    session: AsyncSession, settings: Settings, subject: str
) -> datetime:
    now = utcnow()
    window = timedelta(seconds=settings.registration_window_s)
    recent = (await repository.recent_events(session, (subject,), now - window)).get(subject)
    if recent is not None and recent.count >= settings.registration_max_per_client:
        _limited(
            recent.oldest + window - now,
            "Too many accounts were created from your address; try again in {} seconds",
        )
    return now


def _subject(kind: str, value: str) -> str:
    """A LoginFailure subject; a digest of ``value`` when it would not fit the column."""
    subject = f"{kind}:{value}"
    return subject if len(subject) <= SUBJECT_MAX_LENGTH else f"{kind}:#{token_digest(value)}"


def _limited(wait: timedelta, message: str) -> None:
    retry_after = max(1, math.ceil(wait.total_seconds()))
    raise TooManyRequests(retry_after, message.format(retry_after))


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
    """A new account whose password passes the policy (`api.auth.passwords`)."""
    email = email.lower()
    check_password(password, email=email, full_name=full_name)
    return await _insert_user(
        session,
        email=email,
        password_hash=await hash_password(password),
        full_name=full_name,
        role=role,
    )


async def _insert_user(
    session: AsyncSession, *, email: str, password_hash: str, full_name: str, role: Role
) -> User:
    if await repository.user_by_email(session, email):
        raise EmailTaken()
    user = User(email=email, full_name=full_name, password_hash=password_hash, role=role)
    if not await flush_new(session, user):  # the same email registered at the same moment
        raise EmailTaken()
    return user


async def login(
    session: AsyncSession, settings: Settings, *, email: str, password: str, client: str
) -> TokenPair:
    email = email.strip().lower()
    subjects = _LoginSubjects(
        pair=_subject("pair", f"{client} {email}"),
        client=_subject("client", client),
        account=_subject("account", email),
    )
    # The same queries and the same argon2 work whether or not the account exists.
    attempt = await _count_attempt(session, settings, subjects)
    try:
        await _check_login_limits(session, settings, subjects, attempt)
    except TooManyRequests:
        await _forget_attempt_and_commit(session, attempt)
        raise
    user = await repository.user_by_email(session, email)
    if not await verify_password(password, user.password_hash if user else None) or user is None:
        raise InvalidCredentials()  # the attempt stays counted: it was committed
    if not user.is_active:
        raise AccountInactive()
    await repository.forget_failures_by_id(session, attempt)
    await repository.forget_failures(session, subjects.pair)
    return await _issue_pair(session, settings, user, family_id=uuid.uuid4().hex)


@dataclass(frozen=True)
class _LoginSubjects:
    pair: str  # this account from this client: the attacker's own key, slowed exponentially
    client: str  # this client, whatever the account
    account: str  # this account, whatever the client: a ceiling that admits clean clients

    @property
    def all(self) -> tuple[str, str, str]:
        return self.pair, self.client, self.account


async def _check_login_limits(
    session: AsyncSession, settings: Settings, subjects: _LoginSubjects, attempt: list[int]
) -> None:
    """429 for a client that failed too often lately; never for one with a clean record on the
    account, however many failures others caused (no one can lock the owner out). Attempts
    still in flight count as failures, so a burst of guesses sent at once is judged as a
    sequence; this one's own rows (``attempt``) do not."""
    now = utcnow()
    window = timedelta(seconds=settings.login_window_s)
    recent = await repository.recent_events(session, subjects.all, now - window, excluding=attempt)
    free = settings.login_max_failures
    client = recent.get(subjects.client)
    if client is not None and client.count >= free * CLIENT_FAILURE_FACTOR:
        _limited(
            client.oldest + window - now,
            "Too many failed sign-ins from your address; try again in {} seconds",
        )
    pair = recent.get(subjects.pair)
    if pair is None:
        return
    if pair.count >= free:
        doublings = min(pair.count - free, 16)
        delay = min(window, timedelta(seconds=LOGIN_BACKOFF_S * 2**doublings))
        if pair.newest + delay > now:
            _limited(pair.newest + delay - now, "Too many failed sign-ins; try again in {} seconds")
    account = recent.get(subjects.account)
    if account is not None and account.count >= free * ACCOUNT_FAILURE_FACTOR:
        _limited(
            account.oldest + window - now,
            "This account is under attack; after a failed sign-in from your address, "
            "try again in {} seconds",
        )


async def _count_attempt(
    session: AsyncSession, settings: Settings, subjects: _LoginSubjects
) -> list[int]:
    """Record this attempt as a failure before it is judged, and commit: checking first and
    recording after the password check let N guesses sent at once all pass the check. A
    success or a refusal takes the attempt back (`_forget_attempt_and_commit`); a wrong
    password leaves it. Returns the rows' ids."""
    expired = utcnow() - timedelta(seconds=settings.login_window_s)
    await repository.prune_failures(session, subjects.all, expired)
    rows = [LoginFailure(subject=s) for s in subjects.all]
    session.add_all(rows)
    await session.flush()
    attempt = [row.id for row in rows if row.id is not None]
    # The request may fail with 401, which rolls the session back; the failure must survive
    # that, or the rate limit would never trigger. Services never commit, but for this.
    await session.commit()
    return attempt


async def _forget_attempt_and_commit(session: AsyncSession, attempt: list[int]) -> None:
    await repository.forget_failures_by_id(session, attempt)
    await session.commit()  # before the 429 rolls the request back


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
    if stored.session_epoch != user.session_epoch:  # minted while the password was changing
        raise InvalidToken(SESSION_ENDED)
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
        user.id,
        settings.effective_secret_key,
        settings.access_token_ttl_s,
        session_epoch=user.session_epoch,
    )
    refresh_token = new_opaque_token()
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id,
            session_epoch=user.session_epoch,
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
        user_id, epoch = decode_access_token(token, settings.effective_secret_key)
        user = await repository.user_by_id(session, user_id)
        if user is not None and user.session_epoch != epoch:
            raise InvalidToken(SESSION_ENDED + "; sign in again")
    if user is None or not user.is_active:
        raise InvalidToken()
    return user


async def _user_from_pat(session: AsyncSession, token: str) -> User | None:
    found = await repository.pat_with_user(session, token_digest(token))
    if found is None:
        return None
    pat, user = found
    if pat.revoked_at is not None or pat.session_epoch != user.session_epoch:
        raise InvalidToken("This personal access token was revoked")
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
        session_epoch=user.session_epoch,
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
    return await repository.list_pats(session, user.id, user.session_epoch, params)


async def delete_pat(session: AsyncSession, user: User, token_id: int) -> None:
    assert user.id is not None
    if not await repository.delete_pat(session, user.id, token_id):
        raise TokenNotFound()


async def set_password_hash(
    session: AsyncSession, user: User, password_hash: str, *, keep_tokens: bool = False
) -> int:
    """Set a new password (hashed with `hash_password`) and end every session of the account
    (see `end_sessions`); how many personal access tokens were kept."""
    user.password_hash = password_hash
    return await end_sessions(session, user, keep_tokens=keep_tokens)


async def deactivate_sessions(session: AsyncSession, user: User) -> None:
    await end_sessions(session, user)


async def end_sessions(session: AsyncSession, user: User, *, keep_tokens: bool = False) -> int:
    """Move the account (its row locked by the caller) to a new session epoch: every access
    token minted before fails at once, refresh tokens and personal access tokens are revoked —
    the PATs carried over instead when ``keep_tokens``. How many PATs were kept."""
    assert user.id is not None
    old = user.session_epoch
    user.session_epoch = old + 1
    now = utcnow()
    await repository.revoke_user_refresh_tokens(session, user.id, now)
    if keep_tokens:
        return await repository.carry_pats_over(session, user.id, old, old + 1)
    await repository.revoke_user_pats(session, user.id, now)
    return 0


async def new_session(session: AsyncSession, settings: Settings, user: User) -> TokenPair:
    """A fresh token pair, as a sign-in gives (for the owner who just changed the password)."""
    return await _issue_pair(session, settings, user, family_id=uuid.uuid4().hex)


async def password_matches(user: User, password: str) -> bool:
    return await verify_password(password, user.password_hash)
