"""A live Nimbus for the API clients: uvicorn on 127.0.0.1 in a thread, with the embedded
defaults (a SQLite file, local blobs, an in-process worker on the bubblewrap sandbox).

Each test gets a server of its own, so the first account it registers becomes the admin, as
on a fresh install. The server runs in its own thread and event loop: clients can block
(the generated sync client, newman, bash) without stalling it.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from api import migrations
from api.config import Settings
from api.main import create_app
from tests.conftest import TEST_SECRET
from tests.support.postgres import free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass
class LiveServer:
    url: str
    settings: Settings

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each server (migrating takes longer than copying)."""
    data_dir = tmp_path_factory.mktemp("sqlite-template")
    settings = Settings(data_dir=data_dir, database_url="")
    migrations.upgrade(settings.effective_database_url)
    return data_dir / "nimbus.db"


@pytest.fixture
def live_server(tmp_path: Path, migrated_sqlite: Path) -> Iterator[LiveServer]:
    if shutil.which("bwrap") is None:
        pytest.fail("jobs need a sandbox: apt-get install bubblewrap", pytrace=False)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copyfile(migrated_sqlite, data_dir / "nimbus.db")
    # Everything explicit, whatever NIMBUS_* variables the shell running the tests has.
    settings = Settings(
        env="dev",
        secret_key=TEST_SECRET,
        data_dir=data_dir,
        database_url="",
        storage_url="",
        smtp_url=None,
        registration="open",
        spa_dir=tmp_path / "no-spa",
        executor_backend="bwrap",
        worker_shutdown_grace_s=1.0,
        # The Postman collection points its webhook at this same server (loopback).
        webhook_allow_private_targets=True,
    )
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"nimbus-live-{port}", daemon=True)
    thread.start()
    live = LiveServer(f"http://127.0.0.1:{port}", settings)
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), "the live server stopped during start-up (see the log)"
            assert time.monotonic() < deadline, "the live server did not start within 30 s"
            time.sleep(0.02)
        ready = httpx.get(f"{live.url}/readyz").json()
        if ready["checks"].get("executor") != "ok":
            pytest.fail(f"the bubblewrap sandbox does not work here: {ready}", pytrace=False)
        yield live
    finally:
        server.should_exit = True
        thread.join(timeout=20)
    assert not thread.is_alive(), "the live server did not stop"
