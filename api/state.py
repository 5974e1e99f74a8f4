"""What `create_app` keeps on `app.state`, read with its type: the one module that reads it.

`app.state` is a bag of untyped attributes; reading it all over the code base made it a service
locator whose every lookup was an unchecked `Any`. Code reads it through these accessors (and
routers through the dependencies built on them in `api.deps`), which check what they hand out.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from api.config import Settings
from api.storage import Storage

T = TypeVar("T")


def read(app: Starlette, name: str, kind: type[T]) -> T:
    """`app.state.<name>`, provided it is a `kind`: a missing or wrong one is a wiring bug."""
    value: Any = getattr(app.state, name, None)
    if not isinstance(value, kind):
        raise RuntimeError(
            f"app.state.{name} is {type(value).__name__}, not {kind.__name__}: "
            "build the app with api.main.create_app"
        )
    return value


def settings_of(app: Starlette) -> Settings:
    return read(app, "settings", Settings)


def storage_of(app: Starlette) -> Storage:
    return read(app, "storage", Storage)  # type: ignore[type-abstract]


def engine_of(app: Starlette) -> AsyncEngine:
    return read(app, "engine", AsyncEngine)


def sessionmaker_of(app: Starlette) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = read(app, "sessionmaker", async_sessionmaker)
    return maker


def closing_of(app: Starlette) -> asyncio.Event:
    """Set once the server stops accepting connections: long polls and streams end early."""
    return read(app, "closing", asyncio.Event)
