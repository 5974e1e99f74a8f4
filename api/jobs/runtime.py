"""The jobs machinery of one API process: notifications, the sandbox, an in-process worker.

Started by the app's lifespan. With ``NIMBUS_EXECUTOR_IN_PROCESS=true`` (the embedded default)
it picks a sandbox backend and runs a `Worker`; when no sandbox is usable the API still starts
and job submissions fail fast with 503 ``executor_unavailable`` saying how to fix it. Otherwise
jobs are left to `nimbus worker` processes. Every process expires stale leases.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import shutil

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.config import Settings
from api.jobs.service import ExecutorState
from api.jobs.signals import PgListener
from api.jobs.worker import Worker, maintenance_loop
from executor.backends import (
    BwrapBackend,
    ExecutorUnavailable,
    SandboxBackend,
    select_backend,
)

log = logging.getLogger(__name__)

NO_SANDBOX = (
    "no sandbox is available: no Docker engine answers and bubblewrap is not installed. "
    "Run `make run` (it sets one up), or install bubblewrap (`apt-get install bubblewrap`) "
    "and restart `nimbus serve`; for the Docker sandbox start dockerd (or set "
    "NIMBUS_DOCKER_HOST) and run `nimbus sandbox build`"
)
WEAKER_SANDBOX = (
    "Jobs run in bubblewrap, a weaker sandbox than Docker: no cgroup memory limit and no "
    "container boundary. For the Docker sandbox start dockerd (or set NIMBUS_DOCKER_HOST), "
    "run `nimbus sandbox build` and restart `nimbus serve`"
)
SWITCHED_OFF = (
    "job execution is switched off (NIMBUS_EXECUTOR_BACKEND=off); set it to auto, docker or "
    "bwrap, or run `nimbus worker` elsewhere with NIMBUS_EXECUTOR_IN_PROCESS=false here"
)


def sandbox_instance(settings: Settings) -> str:
    """This installation's name in its sandboxes' labels: the same for every process and restart
    that uses its database (the URL without the password), so a worker reaps what an earlier
    one left and never the sandboxes of another Nimbus sharing the Docker engine."""
    url = make_url(settings.effective_database_url).render_as_string(hide_password=True)
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def executor_state_without_runtime(settings: Settings) -> ExecutorState:
    """What to report when the lifespan did not run (and so started no worker)."""
    if not settings.executor_in_process:
        return ExecutorState(True, None, "jobs run on separate workers (`nimbus worker`)")
    if settings.executor_backend == "off":
        return ExecutorState(False, None, SWITCHED_OFF)
    return ExecutorState(False, None, "the executor has not been started")


class JobRuntime:
    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        database_url: str,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.database_url = database_url
        self.backend: SandboxBackend | None = None
        self.worker: Worker | None = None
        self.listener: PgListener | None = None
        self._owns_backend = False
        self._problem: str | None = None
        self._maintenance: asyncio.Task[None] | None = None

    @property
    def state(self) -> ExecutorState:
        if not self.settings.executor_in_process:
            return executor_state_without_runtime(self.settings)
        if self.worker is not None and self.backend is not None:
            detail = f"in-process worker on {self.backend.name}"
            notice = None
            if isinstance(self.backend, BwrapBackend):
                detail += f" ({self.backend.isolation})"  # e.g. whether the CPU rate is bounded
                notice = WEAKER_SANDBOX
                if self._problem is not None:  # auto chose it over an unusable Docker engine
                    notice = f"{WEAKER_SANDBOX}. Docker was not used: {self._problem}"
            return ExecutorState(True, self.backend.name, detail, notice)
        return ExecutorState(False, None, self._problem or SWITCHED_OFF)

    async def start(self, backend: SandboxBackend | None = None) -> None:
        """Start; a given ``backend`` is used as-is and left open on `stop` (tests share one)."""
        if self.database_url.startswith("postgresql"):
            self.listener = PgListener(self.database_url)
            await self.listener.start()
        if self.settings.executor_in_process:
            if backend is None:
                backend = await self._open_backend()
            else:
                self._owns_backend = False
            if backend is not None:
                self.backend = backend
                self.worker = Worker(self.sessionmaker, backend, self.settings)
                await self.worker.start()
        if self.worker is None:
            self._maintenance = asyncio.create_task(
                maintenance_loop(self.sessionmaker, self.settings)
            )

    async def _open_backend(self) -> SandboxBackend | None:
        s = self.settings
        if s.executor_backend == "off":
            self._problem = SWITCHED_OFF
            return None
        backend = await select_backend(
            s.executor_backend,
            s.docker_host,
            s.sandbox_image,
            pool_size=s.sandbox_pool_size,
            instance=sandbox_instance(s),
        )
        if backend is None:
            self._problem = NO_SANDBOX
            log.warning("jobs: %s", NO_SANDBOX)
            return None
        try:
            await backend.check()
        except ExecutorUnavailable as exc:
            self._problem = str(exc)
            log.warning("jobs: executor unavailable: %s", exc)
            await backend.close()
            if s.executor_backend != "auto" or isinstance(backend, BwrapBackend):
                return None
            # auto: an engine answers but cannot run jobs (e.g. no image yet): bubblewrap, if
            # it works here, runs them meanwhile; the runner page says how to get Docker.
            fallback = await self._bwrap_fallback()
            if fallback is None:
                return None
            backend = fallback
        self._owns_backend = True
        return backend

    async def _bwrap_fallback(self) -> SandboxBackend | None:
        if shutil.which("bwrap") is None:
            return None
        backend = BwrapBackend()
        try:
            await backend.check()
        except ExecutorUnavailable as exc:
            log.warning("jobs: bubblewrap unavailable too: %s", exc)
            await backend.close()
            return None
        log.warning("jobs: using the weaker bubblewrap sandbox: %s", self._problem)
        return backend

    async def stop(self) -> None:
        if self.worker is not None:
            await self.worker.stop(self.settings.worker_shutdown_grace_s)
            self.worker = None
        if self._maintenance is not None:
            self._maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._maintenance
        if self.backend is not None and self._owns_backend:
            await self.backend.close()
        self.backend = None
        if self.listener is not None:
            await self.listener.stop()
