"""Fixtures for jobs run end to end: a real worker on a real Docker engine and a dedicated
PostgreSQL database (workers use their own sessions, so the per-test rollback cannot work here;
each test is cleaned up with TRUNCATE instead)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api import migrations
from api.config import Settings
from api.db import create_engine, create_sessionmaker
from api.main import create_app
from api.models import Job, JobStatus, Role, User
from api.security import hash_password
from executor.backends import DockerBackend
from tests.conftest import PASSWORD, TEST_SECRET, auth_headers
from tests.executor.docker_engine import Engine
from tests.support.postgres import Cluster
from tests.support.served import served

POOL_SIZE = 2
JOBS = "/api/v1/jobs"


@pytest.fixture(scope="session")
def jobs_database_url(pg_cluster: Cluster) -> str:
    name = f"nimbus_jobs_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    pg_cluster.psql(f"CREATE DATABASE {name}")
    url = pg_cluster.url(name)
    migrations.upgrade(url)
    return url


@pytest.fixture(scope="session")
async def jobs_engine(jobs_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(jobs_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def sandbox(docker_engine: Engine) -> AsyncIterator[DockerBackend]:
    """One warm-pool backend shared by every app of the run (the pool fills once)."""
    backend = DockerBackend(docker_engine.docker_host, docker_engine.image, pool_size=POOL_SIZE)
    await backend.check()
    yield backend
    await backend.close()


@dataclass
class Live:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]

    async def user(self, role: Role = Role.developer) -> User:
        async with self.sessionmaker() as session:
            n = await session.scalar(text("SELECT count(*) FROM user_account"))
            user = User(
                email=f"live{n}-{os.urandom(3).hex()}@example.com",
                full_name=f"Live {n}",
                password_hash=await hash_password(PASSWORD),
                role=role,
            )
            session.add(user)
            await session.commit()
            return user

    async def job(self, job_id: str) -> Job:
        async with self.sessionmaker() as session:
            job = await session.get(Job, uuid.UUID(job_id))
            assert job is not None
            return job

    async def wait_status(self, job_id: str, *statuses: JobStatus, timeout_s: float = 20.0) -> Job:
        async with asyncio.timeout(timeout_s):
            while True:
                job = await self.job(job_id)
                if job.status in statuses:
                    return job
                await asyncio.sleep(0.05)

    async def submit(self, user: User, body: dict[str, Any], **params: Any) -> httpx.Response:
        return await self.client.post(JOBS, json=body, params=params, headers=auth_headers(user))


LiveFactory = Callable[..., contextlib.AbstractAsyncContextManager[Live]]


@pytest.fixture
def live_factory(
    tmp_path: Path,
    jobs_database_url: str,
    jobs_engine: AsyncEngine,
    sandbox: DockerBackend,
    docker_engine: Engine,
) -> LiveFactory:
    @contextlib.asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[Live]:
        fields: dict[str, Any] = {
            "env": "dev",
            "secret_key": TEST_SECRET,
            "data_dir": tmp_path / "data",
            "database_url": jobs_database_url,
            "spa_dir": tmp_path / "no-spa",
            "executor_backend": "docker",
            "docker_host": docker_engine.docker_host,
            "sandbox_image": docker_engine.image,
            "job_concurrency": 2,
            "job_poll_interval_s": 0.5,
            "job_sse_keepalive_s": 0.5,
            "worker_reap_on_start": False,
            "worker_shutdown_grace_s": 1.0,
            **overrides,
        }
        settings = Settings(**fields)
        app = create_app(settings)
        app.state.engine = jobs_engine
        app.state.sessionmaker = create_sessionmaker(jobs_engine)
        app.state.sandbox_backend = sandbox
        try:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
                async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                    yield Live(app, c, settings, app.state.sessionmaker)
        finally:
            async with jobs_engine.begin() as conn:
                await conn.execute(text("TRUNCATE user_account, job RESTART IDENTITY CASCADE"))

    return make


@pytest.fixture
async def live(live_factory: LiveFactory) -> AsyncIterator[Live]:
    """An app with an in-process worker on the shared warm-pool Docker backend."""
    async with live_factory() as live:
        yield live


ServeFn = Callable[[FastAPI], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[ServeFn]:
    """Serve an app with uvicorn on 127.0.0.1 (real sockets: streaming, disconnects)."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(app: FastAPI) -> str:
            return await stack.enter_async_context(served(app))

        yield start
