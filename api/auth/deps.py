"""Who is asking: the current user from a bearer token (JWT or PAT), and permission checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from api.auth import service as auth_service
from api.db import ACTOR_KEY
from api.deps import SessionDep, SettingsDep
from api.errors import Forbidden, Unauthorized
from api.models import User
from api.permissions import PERMISSIONS, has_permission
from api.security import PAT_PREFIX

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def current_user(
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(_bearer)],
) -> User:
    if not token:
        raise Unauthorized("Send 'Authorization: Bearer <token>' (a JWT access token or a PAT)")
    user = await auth_service.authenticate_bearer(session, settings, token)
    session.info[ACTOR_KEY] = user.id  # who the history rows of this request name
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def signed_in_user(user: CurrentUser, token: Annotated[str | None, Depends(_bearer)]) -> User:
    """The current user, provided they signed in (a JWT) rather than sent a personal access
    token: a leaked PAT must not mint new tokens, which would outlive its revocation."""
    if token is not None and token.startswith(PAT_PREFIX):
        raise Forbidden(
            "A personal access token cannot create tokens: sign in (POST /auth/token) and use "
            "the access token"
        )
    return user


SignedInUser = Annotated[User, Depends(signed_in_user)]


def require(permission: str) -> Callable[[User], Awaitable[User]]:
    """Dependency factory: the current user, provided their role holds `permission`."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    async def dependency(user: CurrentUser) -> User:
        if not has_permission(user.role, permission):
            raise Forbidden(f"Your role ({user.role}) lacks the permission {permission}")
        return user

    return dependency
