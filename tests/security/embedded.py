"""The embedded default (a SQLite file migrated by Alembic) as an app to attack over ASGI, with
clients that come from addresses of the test's choosing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

from api import migrations
from api.config import Settings
from api.main import create_app

ClientAt = Callable[[str], httpx.AsyncClient]


@contextlib.asynccontextmanager
async def sqlite_app(tmp_path: Path, **overrides: Any) -> AsyncIterator[ClientAt]:
    """An app on a fresh SQLite file; yields `at(address)`, a client whose requests arrive from
    ``address`` (the ASGI scope's client, as uvicorn fills it in)."""
    settings = Settings(
        data_dir=tmp_path / "embedded",
        spa_dir=tmp_path / "no-spa",
        executor_backend="off",
        executor_in_process=False,
        **overrides,
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Alembic's async env runs its own event loop: not inside this one
    await asyncio.to_thread(migrations.upgrade, settings.effective_database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app), contextlib.AsyncExitStack() as stack:

        def at(address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            client = httpx.AsyncClient(transport=transport, base_url="http://t")
            stack.push_async_callback(client.aclose)
            return client

        yield at


def client_at(app: Any, address: str) -> httpx.AsyncClient:
    """A client of ``app`` (the PostgreSQL test app) whose requests come from ``address``."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")
