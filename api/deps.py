"""The request dependencies every router uses: session, settings, storage, the client.

Who is asking (the current user, permissions) is `api.auth.deps`: it needs the auth service.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Annotated

from fastapi import Depends, Request
from fastapi.params import Form
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.config import Settings
from api.db import get_session
from api.errors import UnsupportedMediaType
from api.state import closing_of, sessionmaker_of, settings_of, storage_of
from api.storage import Storage

SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def app_settings(request: Request) -> Settings:
    """The settings the app was created with (tests build apps with their own)."""
    return settings_of(request.app)


async def app_storage(request: Request) -> Storage:
    """Where blobs (attachments, receipts) are kept."""
    return storage_of(request.app)


async def app_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """For work that outlives the request's session (streams, long polls)."""
    return sessionmaker_of(request.app)


async def closing(request: Request) -> asyncio.Event:
    return closing_of(request.app)


SettingsDep = Annotated[Settings, Depends(app_settings)]
StorageDep = Annotated[Storage, Depends(app_storage)]
SessionmakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(app_sessionmaker)]
ClosingDep = Annotated[asyncio.Event, Depends(closing)]


async def client_address(request: Request) -> str:
    """Who a per-client limit counts: the peer's address, an IPv6 one by its /64 (a site gets a
    whole /64, so counting single addresses gave one attacker 2**64 fresh starts)."""
    host = request.client.host if request.client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return host


ClientAddress = Annotated[str, Depends(client_address)]


def _reads_json(route: APIRoute) -> bool:
    """The route takes a JSON body (not a form or upload, not one it reads itself)."""
    return route.body_field is not None and not isinstance(route.body_field.field_info, Form)


async def json_bodies_only(request: Request) -> None:
    """A body sent to a JSON route must say it is JSON: 415, not a 422 about a body that is
    "not a valid dictionary" (curl -d sends application/x-www-form-urlencoded unless told)."""
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return
    route = request.scope.get("route")
    headers = request.headers
    has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
    if not (has_body and isinstance(route, APIRoute) and _reads_json(route)):
        return
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        sent = media_type or "a body without a Content-Type"
        raise UnsupportedMediaType(
            f"Send this body as JSON (Content-Type: application/json), not {sent}"
        )
