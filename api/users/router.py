"""Own profile and admin management of user accounts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from api.auth.deps import CurrentUser, require
from api.concurrency import IfMatch, set_etag
from api.deps import SessionDep, SettingsDep
from api.errors import error_responses
from api.middleware import CheckedJsonRoute
from api.models import Role, User
from api.pagination import Page, PageParams, page_params, set_link_header
from api.users import service
from api.users.schemas import MeRead, MeUpdate, MeUpdated, UserCreate, UserRead, UserUpdate

router = APIRouter(route_class=CheckedJsonRoute, prefix="/users", tags=["users"])

Admin = Annotated[User, Depends(require("users:manage"))]
Reader = Annotated[User, Depends(require("users:read"))]


@router.get("/me", summary="Read my profile", responses=error_responses(401))
async def read_me(user: CurrentUser, response: Response) -> MeRead:
    set_etag(response, user.version)
    return MeRead.of(user)


@router.patch(
    "/me",
    summary="Edit my profile (email and password changes need current_password)",
    description=(
        "A new password must not be guessable (422 `weak_password` with a `reason`). It ends "
        "every session of the account at once: access tokens, refresh tokens and personal "
        "access tokens minted before (unless `keep_tokens`); the answer carries a new `session`."
    ),
    responses=error_responses(401, 403, 409, 412, 422),
)
async def update_me(
    data: MeUpdate,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    if_match: IfMatch = None,
) -> MeUpdated:
    updated = await service.update_me(session, settings, user, data, if_match)
    set_etag(response, updated.user.version)
    return MeUpdated(
        **MeRead.of(updated.user).model_dump(),
        session=updated.session,
        warnings=list(updated.warnings),
    )


@router.get("", summary="List users (admin)", responses=error_responses(400, 401, 403, 422))
async def list_users(
    _: Reader,
    session: SessionDep,
    request: Request,
    response: Response,
    params: Annotated[PageParams, Depends(page_params)],
    role: Role | None = None,
    is_active: bool | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Match email or name")] = None,
) -> Page[UserRead]:
    rows, next_cursor = await service.list_users(
        session, params, role=role, is_active=is_active, q=q
    )
    set_link_header(request, response, next_cursor)
    return Page(items=[UserRead.model_validate(u) for u in rows], next_cursor=next_cursor)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a user with any role (admin)",
    responses=error_responses(401, 403, 409, 422),
)
async def create_user(data: UserCreate, _: Admin, session: SessionDep) -> UserRead:
    return UserRead.model_validate(await service.create_user(session, data))


@router.get("/{user_id}", summary="Read a user (admin)", responses=error_responses(401, 403, 404))
async def read_user(user_id: int, _: Reader, session: SessionDep, response: Response) -> UserRead:
    user = await service.get_user(session, user_id)
    set_etag(response, user.version)
    return UserRead.model_validate(user)


@router.patch(
    "/{user_id}",
    summary="Change a user's role, name, email or active state (admin)",
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def update_user(
    user_id: int,
    data: UserUpdate,
    admin: Admin,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> UserRead:
    user = await service.update_user(session, admin, user_id, data, if_match)
    set_etag(response, user.version)
    return UserRead.model_validate(user)


@router.delete(
    "/{user_id}",
    summary="Deactivate a user; their bugs, comments and expenses stay (admin)",
    responses=error_responses(401, 403, 404, 409, 412),
)
async def delete_user(
    user_id: int, admin: Admin, session: SessionDep, if_match: IfMatch = None
) -> UserRead:
    return UserRead.model_validate(await service.deactivate_user(session, admin, user_id, if_match))
