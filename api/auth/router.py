"""Registration, tokens and personal access tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from api.auth import service
from api.auth.deps import CurrentUser, SignedInUser
from api.auth.schemas import (
    PersonalAccessTokenCreate,
    PersonalAccessTokenCreated,
    PersonalAccessTokenRead,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
)
from api.deps import ClientAddress, SessionDep, SettingsDep
from api.errors import error_responses
from api.middleware import CheckedJsonRoute
from api.pagination import Page, Pages, linked_page
from api.users.schemas import UserRead

router = APIRouter(route_class=CheckedJsonRoute, tags=["auth"])
tokens_router = APIRouter(route_class=CheckedJsonRoute, prefix="/users/me/tokens", tags=["users"])


@router.post(
    "/auth/register",
    status_code=status.HTTP_201_CREATED,
    summary="Create an account (the first one becomes admin)",
    description=(
        "The password must not be guessable: a common or breached password, one built from the "
        "account's email or name or the service's name, only whitespace or one repeated "
        "character is refused with 422 `weak_password` and a `reason`. Registrations are "
        "limited per client address (429 with Retry-After)."
    ),
    responses=error_responses(403, 409, 422, 429),
    openapi_extra={"security": []},  # no token needed
)
async def register(
    data: RegisterRequest, session: SessionDep, settings: SettingsDep, client: ClientAddress
) -> UserRead:
    return UserRead.model_validate(await service.register(session, settings, data, client=client))


@router.post(
    "/auth/token",
    summary="Sign in with email and password (OAuth2 password flow)",
    responses=error_responses(401, 403, 422, 429),
    openapi_extra={"security": []},  # no token needed
)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    client: ClientAddress,
) -> TokenPair:
    return await service.login(
        session, settings, email=form.username, password=form.password, client=client
    )


@router.post(
    "/auth/refresh",
    summary="Exchange a refresh token for a new token pair",
    responses=error_responses(401, 422),
    openapi_extra={"security": []},  # no token needed
)
async def refresh(data: RefreshRequest, session: SessionDep, settings: SettingsDep) -> TokenPair:
    return await service.refresh(session, settings, data.refresh_token)


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a refresh token and its session",
    responses=error_responses(422),
    openapi_extra={"security": []},  # no token needed
)
async def logout(data: RefreshRequest, session: SessionDep) -> None:
    await service.logout(session, data.refresh_token)


@tokens_router.get(
    "",
    summary="List my personal access tokens",
    responses=error_responses(400, 401),
)
async def list_tokens(
    user: CurrentUser, session: SessionDep, params: Pages, request: Request, response: Response
) -> Page[PersonalAccessTokenRead]:
    rows, cursor = await service.list_pats(session, user, params)
    items = [PersonalAccessTokenRead.model_validate(t) for t in rows]
    return linked_page(request, response, items, cursor)


@tokens_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a personal access token (shown once)",
    description="Needs a signed-in session: a personal access token cannot create tokens.",
    responses=error_responses(401, 403, 422),
)
async def create_token(
    data: PersonalAccessTokenCreate, user: SignedInUser, session: SessionDep
) -> PersonalAccessTokenCreated:
    return await service.create_pat(session, user, data)


@tokens_router.delete(
    "/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a personal access token",
    responses=error_responses(401, 404),
)
async def delete_token(token_id: int, user: CurrentUser, session: SessionDep) -> None:
    await service.delete_pat(session, user, token_id)
