"""The only module that touches jose and passlib: password hashing and token minting/checking."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet
from jose import JWTError, jwt
from passlib.context import CryptContext

from api.errors import InvalidToken

JWT_ALGORITHM = "HS256"
PAT_PREFIX = "nmb_"

# OWASP's argon2id baseline (19 MiB, t=2, p=1): strong, and cheap enough for a 2-core host.
_passwords = CryptContext(
    schemes=["argon2"],
    argon2__type="ID",
    argon2__memory_cost=19456,
    argon2__time_cost=2,
    argon2__parallelism=1,
)

# Verified against when the account does not exist, so a login costs the same either way.
_DUMMY_HASH = _passwords.hash(secrets.token_urlsafe(16))


# argon2 costs ~20 ms of CPU a call and releases the GIL: run in a thread, it leaves the event
# loop free to serve other requests meanwhile (a burst of sign-ins stalled every request). Its
# own threads, one per core: more would only share the cores (and hold 19 MiB each), and a burst
# of sign-ins must not take the default pool's threads from file I/O (storage writes, fsync).
# The cores this process may use (a container's cpuset), not the host's.
_hashing = ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0)), thread_name_prefix="argon2")


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_hashing, _passwords.hash, password)


async def verify_password(password: str, password_hash: str | None) -> bool:
    """Constant-cost check: a missing account still pays for one argon2 verification."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_hashing, _verify, password, password_hash)


def _verify(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        _passwords.verify(password, _DUMMY_HASH)
        return False
    try:
        return _passwords.verify(password, password_hash)
    except ValueError:
        return False


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int


def create_access_token(
    user_id: int, secret_key: str, ttl_s: int, *, session_epoch: int = 0
) -> AccessToken:
    """A signed token for ``user_id``, valid while the account stays at ``session_epoch``."""
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "epoch": session_epoch,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_s)).timestamp()),
        "jti": uuid.uuid4().hex,
        "typ": "access",
    }
    return AccessToken(jwt.encode(claims, secret_key, algorithm=JWT_ALGORITHM), ttl_s)


VERIFIED_TOKENS_KEPT = 4096
_verified: OrderedDict[tuple[str, str], tuple[int, int, int]] = OrderedDict()
"""(secret, token) -> (user id, session epoch, exp) of access tokens already checked. A token is
a fixed string that only its signature makes valid, so once checked it stays valid until it
expires (its epoch is compared with the account's by the caller, on every request): re-checking
it with jose on every request cost ~0.25 ms, a fifteenth of a bug-list page."""


def decode_access_token(token: str, secret_key: str) -> tuple[int, int]:
    """The user id and session epoch of a valid HS256 access token; anything else (alg none,
    RS256, expired) fails. Whether the epoch is still the account's is the caller's check."""
    known = _verified.get((secret_key, token))
    if known is not None and time.time() < known[2]:
        return known[0], known[1]
    user_id, epoch, expires = _check_access_token(token, secret_key)
    _verified[(secret_key, token)] = (user_id, epoch, expires)
    if len(_verified) > VERIFIED_TOKENS_KEPT:
        _verified.popitem(last=False)
    return user_id, epoch


def _check_access_token(token: str, secret_key: str) -> tuple[int, int, int]:
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != JWT_ALGORITHM:
            raise InvalidToken("Only HS256 tokens are accepted")
        claims = jwt.decode(
            token,
            secret_key,
            algorithms=[JWT_ALGORITHM],
            options={
                "require_sub": True,
                "require_exp": True,
                "require_iat": True,
                "require_jti": True,
            },
        )
    except JWTError as exc:
        raise InvalidToken() from exc
    if claims.get("typ") != "access":
        raise InvalidToken()
    epoch = claims.get("epoch", 0)  # tokens minted before epochs existed: the first epoch
    if type(epoch) is not int:
        raise InvalidToken()
    try:
        return int(claims["sub"]), epoch, int(claims["exp"])
    except (TypeError, ValueError) as exc:
        raise InvalidToken() from exc


def new_opaque_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Opaque tokens (refresh, PAT) are stored as SHA-256: they are long random, not passwords."""
    return hashlib.sha256(token.encode()).hexdigest()


def _fernet(secret_key: str) -> Fernet:
    import base64

    return Fernet(
        base64.urlsafe_b64encode(hashlib.sha256(b"nimbus-at-rest:" + secret_key.encode()).digest())
    )


def encrypt_at_rest(value: str, secret_key: str) -> str:
    """For secrets Nimbus must read back (webhook signing keys), unlike passwords and tokens."""
    return _fernet(secret_key).encrypt(value.encode()).decode()


def decrypt_at_rest(value: str, secret_key: str) -> str:
    return _fernet(secret_key).decrypt(value.encode()).decode()


def hmac_sha256_hex(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
