"""`DockerBackend`: jobs in sandboxes on a Docker engine, one-shot or from a warm pool, and the
reaper of the sandboxes a crashed worker left (see `sandbox` for what a sandbox is)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

import aiodocker
import aiohttp

from executor.backends.base import (
    DEFAULT_LIMITS,
    ExecutorUnavailable,
    InvalidJob,
    JobSpec,
    Limits,
    Outcome,
    OutputSink,
    RunResult,
)
from executor.backends.docker.pool import MAX_IDLE_S, WarmPool
from executor.backends.docker.sandbox import (
    CLEANUP_DELAY_S,
    LABEL,
    LABEL_CREATED,
    LABEL_INSTANCE,
    LABEL_OWNER,
    CgroupFiles,
    Sandbox,
    StoppedFromOutside,
    api_call,
    sandbox_labels,
)
from executor.backends.docker.supervisor import PAGE, inputs_bytes, job_frame, work_free_bytes
from executor.image.build import DEFAULT_TAG

log = logging.getLogger(__name__)

LEGACY_NAME = re.compile(r"nimbus-sbx-[0-9a-f]{16}")
LEGACY_EXITED_FOR_S = 15 * 60.0
"""A sandbox made before installations were labelled is reaped only once it has been stopped
this long: its maker (possibly another installation, still on older code) has long finished
reading its files by then."""


async def _delete_volume(docker: aiodocker.Docker, name: str) -> None:
    from aiodocker.volumes import DockerVolume

    volume = DockerVolume(docker, name)  # type: ignore[no-untyped-call]
    try:
        await api_call(volume.delete(force=True))  # type: ignore[no-untyped-call]
    except aiodocker.DockerError as exc:
        if exc.status != 404:
            raise


async def reap_sandboxes(
    docker: aiodocker.Docker,
    *,
    instance: str,
    older_than_s: float = 0.0,
    keep: frozenset[str] = frozenset(),
    owner: str | None = None,
) -> int:
    """Delete installation ``instance``'s containers older than ``older_than_s``, neither in
    ``keep`` (sandbox names still in use) nor made by ``owner`` (the calling backend, whose
    sandboxes are live or being deleted), then its volumes as old that no container uses.
    Another installation's sandboxes on a shared engine are never touched.

    Run it when a worker starts (after a crash nothing else will) and periodically. A sandbox's
    volume is referenced by its container, so an old unused one is a leftover. The age matters
    for volumes too: Docker creates a volume just before its container, and while a worker on
    this engine is creating a sandbox its brand-new volume is briefly unused.
    """
    cutoff = time.time() - older_than_s
    label_filter = [f"{LABEL}=1", f"{LABEL_INSTANCE}={instance}"]
    filters = json.dumps({"label": label_filter})
    removed = 0

    def spared(labels: Mapping[str, str]) -> bool:
        if owner is not None and labels.get(LABEL_OWNER) == owner:
            return True
        return float(labels.get(LABEL_CREATED, 0)) > cutoff

    containers = await api_call(docker.containers.list(all=True, filters=filters))
    for container in containers:
        labels = container._container.get("Labels") or {}
        names = {n.lstrip("/") for n in container._container.get("Names") or []}
        if names & keep or spared(labels):
            continue
        try:
            await api_call(container.delete(force=True, v=True))
            removed += 1
        except aiodocker.DockerError as exc:
            if exc.status != 404:
                log.warning("reaper could not delete container %s: %s", container.id, exc)
    volumes = await api_call(
        docker.volumes.list(  # type: ignore[no-untyped-call]
            filters={"label": label_filter, "dangling": ["true"]}
        )
    )
    for volume in volumes.get("Volumes") or []:
        if spared(volume.get("Labels") or {}):
            continue
        try:
            await _delete_volume(docker, volume["Name"])
            removed += 1
        except aiodocker.DockerError as exc:
            # 409: a container started using it meanwhile (not ours to judge: leave it)
            log.warning("reaper could not delete volume %s: %s", volume["Name"], exc)
    return removed


async def reap_legacy_sandboxes(
    docker: aiodocker.Docker,
    *,
    exited_for_s: float = LEGACY_EXITED_FOR_S,
    name_contains: str = "nimbus-sbx-",
) -> int:
    """Delete sandboxes made before installations were labelled (no `LABEL_INSTANCE`): only
    containers named as Nimbus names sandboxes that have stopped at least ``exited_for_s``
    ago. Their installation cannot be told, so a running one, a young one or one carrying
    any installation label is never touched; a stopped old one is of no use to anyone.
    ``name_contains`` narrows the engine's listing (a test reaps only what it made)."""
    filters = json.dumps({"name": [name_contains], "status": ["exited", "dead"]})
    cutoff = time.time() - exited_for_s
    removed = 0
    for container in await api_call(docker.containers.list(all=True, filters=filters)):
        labels = container._container.get("Labels") or {}
        names = [n.lstrip("/") for n in container._container.get("Names") or []]
        if LABEL_INSTANCE in labels or not any(LEGACY_NAME.fullmatch(n) for n in names):
            continue
        try:
            state = (await api_call(container.show())).get("State") or {}
            finished = state.get("FinishedAt") or ""
            if state.get("Status") not in ("exited", "dead") or not finished.startswith("2"):
                continue
            ended = datetime.fromisoformat(finished[:19]).replace(tzinfo=UTC).timestamp()
            if ended > cutoff:
                continue
            await api_call(container.delete(force=True, v=True))
            removed += 1
        except aiodocker.DockerError as exc:
            if exc.status != 404:
                log.warning("reaper could not delete container %s: %s", container.id, exc)
    return removed


def open_docker(
    docker_host: str | None, connector: aiohttp.BaseConnector | None = None
) -> aiodocker.Docker:
    """An aiodocker client; `ExecutorUnavailable` when there is no engine to talk to.

    aiodocker asserts (rather than raising an error) when no host is given and no default socket
    exists, which is the normal state of a machine without Docker. A ``connector`` (see
    `unix_connector`) is the caller's to close.
    """
    try:
        if connector is not None:
            return aiodocker.Docker(url="unix://localhost", connector=connector)
        return aiodocker.Docker(url=docker_host)
    except AssertionError as exc:
        raise ExecutorUnavailable(
            "No Docker engine found (no DOCKER_HOST and no /var/run/docker.sock): install and "
            "start Docker (apt-get install docker.io), or set NIMBUS_EXECUTOR_BACKEND=bwrap"
        ) from exc


def unix_connector(docker_host: str | None, limit: int) -> aiohttp.UnixConnector:
    """A connection pool of ``limit`` connections to a unix-socket engine (aiodocker's own
    holds 100)."""
    host = docker_host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if not host.startswith("unix://"):
        raise ValueError(f"a connection limit needs a unix:// Docker host, not {host}")
    return aiohttp.UnixConnector(host.removeprefix("unix://"), limit=limit)


class DockerBackend:
    """`SandboxBackend` on a Docker engine. ``pool_size`` pre-started containers hide start-up.

    ``instance`` names the installation in every sandbox's labels: give a stable one (Nimbus
    derives it from its database) so that a restarted process reaps what it left; without one
    this backend only ever reaps its own. ``connection_limit`` bounds the engine connections
    (default: aiodocker's 100)."""

    name = "docker"

    def __init__(
        self,
        docker_host: str | None = None,
        image: str = DEFAULT_TAG,
        *,
        pool_size: int = 0,
        pool_limits: Limits = DEFAULT_LIMITS,
        pool_max_idle_s: float | None = None,
        instance: str | None = None,
        connection_limit: int | None = None,
    ) -> None:
        self.docker_host = docker_host
        self.image = image
        self.instance = instance or uuid.uuid4().hex[:16]
        self.owner = uuid.uuid4().hex[:16]
        self.connection_limit = connection_limit
        self._connector: aiohttp.BaseConnector | None = None
        self._docker: aiodocker.Docker | None = None
        self._pool_size = pool_size
        self._pool_limits = pool_limits
        self._pool_max_idle_s = pool_max_idle_s
        self._pool: WarmPool | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self._live: set[str] = set()
        self._cgroups: CgroupFiles | None = None

    @property
    def docker(self) -> aiodocker.Docker:
        if self._docker is None:
            if self.connection_limit is not None and self._connector is None:
                self._connector = unix_connector(self.docker_host, self.connection_limit)
            self._docker = open_docker(self.docker_host, self._connector)
        return self._docker

    def labels(self) -> dict[str, str]:
        """Labels for a new sandbox of this backend."""
        return sandbox_labels(self.instance, self.owner)

    @property
    def pool_available(self) -> int:
        """Pre-started containers ready right now (for ``nimbus_sandbox_pool_available``)."""
        return 0 if self._pool is None else self._pool.available

    @property
    def pool(self) -> WarmPool | None:
        return self._pool

    async def check(self) -> None:
        where = self.docker_host or "the default socket"
        try:
            await api_call(self.docker.version(), 5.0)
        except (aiodocker.DockerError, TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise ExecutorUnavailable(
                f"no Docker engine answers at {where} ({exc}); start dockerd or set "
                "NIMBUS_DOCKER_HOST, or use NIMBUS_EXECUTOR_BACKEND=bwrap"
            ) from exc
        try:
            await api_call(self.docker.images.inspect(self.image), 10.0)
        except aiodocker.DockerError as exc:
            raise ExecutorUnavailable(
                f"sandbox image {self.image} is missing on {where}: run `nimbus sandbox build`"
            ) from exc
        if self._cgroups is None:
            try:
                info = await api_call(self.docker.system.info(), 10.0)
            except (aiodocker.DockerError, TimeoutError, aiohttp.ClientError, OSError) as exc:
                log.warning("no resource figures for jobs: docker info failed: %s", exc)
            else:
                self._cgroups = CgroupFiles(
                    str(info.get("CgroupDriver") or "cgroupfs"),
                    str(info.get("CgroupVersion") or "1"),
                )
        if self._pool_size > 0 and self._pool is None:
            self._pool = WarmPool(
                self, self._pool_size, self._pool_limits, self._pool_max_idle_s or MAX_IDLE_S
            )
            await self._pool.start()

    async def run(
        self, spec: JobSpec, sink: OutputSink | None = None, cancel: asyncio.Event | None = None
    ) -> RunResult:
        begun = time.monotonic()
        try:
            spec = spec.validated()
        except InvalidJob as exc:
            return RunResult(outcome=Outcome.ERROR, error=str(exc))
        limits = spec.limits
        sandbox: Sandbox | None = None
        try:
            if self._pool is not None and spec.image in (None, self.image):
                sandbox, payload = await self._pool.take(spec)
                if sandbox is not None and cancel is not None and cancel.is_set():
                    return RunResult(outcome=Outcome.CANCELLED)  # while it waited for the pool
            if sandbox is None:
                work = work_free_bytes(limits) + inputs_bytes(spec.files) + PAGE
                sandbox = await Sandbox.create(
                    self.docker, spec.image or self.image, limits, work, self.labels()
                )
                self._live.add(sandbox.name)
                if cancel is not None and cancel.is_set():
                    return RunResult(outcome=Outcome.CANCELLED)
                await sandbox.start()
                payload = job_frame(spec, sandbox.nonce) + spec.stdin
            self._live.add(sandbox.name)
            result = await sandbox.execute(payload, limits, sink, cancel)
            if sandbox.end is not None and self._cgroups is not None:  # the container lives
                usage = self._cgroups.read(sandbox.id)
                result.cpu_time_ms = usage.cpu_time_ms
                result.peak_memory_bytes = usage.peak_memory_bytes
            collected = await sandbox.collect_files(limits, unchanged=spec.files)
            result.files = collected.files
            result.files_truncated = collected.truncated
            return result
        except (
            aiodocker.DockerError,
            TimeoutError,
            aiohttp.ClientError,
            OSError,
            json.JSONDecodeError,  # an empty answer from a daemon that is shutting down
            StoppedFromOutside,
        ) as exc:
            log.exception("sandbox job failed in the infrastructure")
            return RunResult(
                outcome=Outcome.ERROR,
                error=f"sandbox failure: {exc}",
                duration_ms=round((time.monotonic() - begun) * 1000),
            )
        finally:
            if sandbox is not None:
                self.retire(sandbox, after_s=CLEANUP_DELAY_S)
            if self._pool is not None:
                pool = self._pool
                asyncio.get_running_loop().call_later(CLEANUP_DELAY_S, pool.replenish)

    def retire(self, sandbox: Sandbox, after_s: float = 0.0) -> None:
        """Delete the sandbox in the background (after ``after_s``) so the caller gets its
        result sooner."""

        async def retire() -> None:
            try:
                await asyncio.sleep(after_s)
                await sandbox.destroy()
            finally:
                self._live.discard(sandbox.name)

        task = asyncio.create_task(retire())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def drain(self) -> None:
        """Wait until every finished job's container and volume are deleted."""
        while self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)

    async def reap(self, older_than_s: float = 0.0) -> int:
        """Remove labelled leftovers on this engine, sparing this backend's live sandboxes."""
        keep = set(self._live)
        if self._pool is not None:
            keep |= self._pool.names()
        removed = await reap_sandboxes(
            self.docker,
            instance=self.instance,
            older_than_s=older_than_s,
            keep=frozenset(keep),
            owner=self.owner,
        )
        return removed + await reap_legacy_sandboxes(self.docker)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        await self.drain()
        if self._docker is not None:
            await self._docker.close()
            self._docker = None
        if self._connector is not None:
            await self._connector.close()
            self._connector = None
