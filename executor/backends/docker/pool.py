"""Warm pool of pre-started, single-use sandbox containers (each runs `supervisor.BOOTSTRAP`).

After the job the container is deleted (never reused) and the pool starts a replacement in the
background. A container that waits longer than ``MAX_IDLE_S`` is replaced too, so that no live
sandbox of any worker is ever older than ``MAX_IDLE_S`` + a job's wall time: the engine-wide
reaper relies on that age bound to tell a crashed worker's leftovers from another worker's pool.
A job that finds the pool empty waits for a container being started (see `WarmPool.take`).
Jobs whose container-level limits (memory, pids, CPUs, tmpfs sizes) differ from the pool's, whose
inputs do not fit its allowance, or that find it empty with nothing being started, get a
one-shot container.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from typing import Protocol

import aiodocker

from executor.backends.base import JobSpec, Limits
from executor.backends.docker.sandbox import Sandbox
from executor.backends.docker.supervisor import (
    POOL_INPUT_BYTES,
    inputs_bytes,
    job_frame,
    work_free_bytes,
)

log = logging.getLogger(__name__)

MAX_FILLERS = 3
"""Containers created concurrently while refilling (never more than the pool's size). With jobs
waiting for the pool (`take`), a pool of 8 at concurrency 8 on 2 vCPUs had its best throughput
with 3-4; beyond that dockerd only contends."""
TAKE_WAIT_S = 5.0
"""How long a job waits for a container being started before it gets a one-shot one."""
RETRY_DELAY_S = 2.0
MAX_IDLE_S = 300.0
"""A warm container older than this is replaced (see the module docstring)."""


class SandboxHost(Protocol):
    """What the pool needs of its backend: the engine, the image, labels, and deleting a
    sandbox in the background."""

    image: str

    @property
    def docker(self) -> aiodocker.Docker: ...

    def labels(self) -> dict[str, str]: ...

    def retire(self, sandbox: Sandbox, after_s: float = 0.0) -> None: ...


def fits_pool(job: Limits, pool: Limits) -> bool:
    """Container-level limits must match; per-process rlimits may only be lowered."""
    return (
        job.memory_mb == pool.memory_mb
        and job.pids == pool.pids
        and job.cpus == pool.cpus
        and job.tmpfs_mb == pool.tmpfs_mb
        and job.max_file_bytes <= pool.max_file_bytes
        and job.nofile <= pool.nofile
    )


def fits_work_dir(spec: JobSpec, pool: Limits) -> bool:
    """The job's inputs and its room to write fit a warm container's work directory."""
    return (
        spec.limits.max_files <= pool.max_files
        and work_free_bytes(spec.limits) + inputs_bytes(spec.files)
        <= work_free_bytes(pool) + POOL_INPUT_BYTES
    )


class WarmPool:
    """Keeps ``size`` started containers ready; `take` hands each out exactly once."""

    def __init__(
        self, backend: SandboxHost, size: int, limits: Limits, max_idle_s: float = MAX_IDLE_S
    ) -> None:
        self._backend = backend
        self.size = size
        self.limits = limits
        self.max_idle_s = max_idle_s
        self._ready: collections.deque[Sandbox] = collections.deque()
        self._need = asyncio.Event()
        self._fillers: list[asyncio.Task[None]] = []
        self._closing = False
        self._in_flight = 0
        self._full = asyncio.Event()
        self._has_ready = asyncio.Event()
        self._filled = asyncio.Event()  # a filler finished one attempt (success or not)
        self._fill_failed = False  # the last attempt failed: the engine may be down
        self._waiting = 0

    @property
    def available(self) -> int:
        return len(self._ready)

    def names(self) -> set[str]:
        return {sandbox.name for sandbox in self._ready}

    def container_ids(self) -> set[str]:
        return {sandbox.id for sandbox in self._ready}

    async def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Wait until at least one container is ready."""
        async with asyncio.timeout(timeout_s):
            await self._has_ready.wait()

    async def start(self, wait: bool = True) -> None:
        """Start the background fillers; with ``wait``, return once the pool is full."""
        self._need.set()
        self._fillers = [
            asyncio.create_task(self._fill()) for _ in range(min(MAX_FILLERS, self.size))
        ]
        self._fillers.append(asyncio.create_task(self._recycle()))
        if wait:
            async with asyncio.timeout(60):
                await self._full.wait()

    async def take(self, spec: JobSpec) -> tuple[Sandbox | None, bytes]:
        """A ready container and the stdin payload for ``spec``, or ``(None, b"")``: the job
        then gets a one-shot container.

        With none ready but the pool refilling, the job waits for a container (at most
        `TAKE_WAIT_S`; at most as many jobs as the pool holds): under load, a one-shot container
        started beside the pool's own refills makes the engine do both, and both slower
        (throughput at concurrency 8: 0.60x -> 0.76x of raw aiodocker).
        """
        if not (fits_pool(spec.limits, self.limits) and fits_work_dir(spec, self.limits)):
            return None, b""  # a one-shot container takes the job: no frame to build
        if not self._ready and self._refilling and self._waiting < self.size:
            await self._wait_for_filler()
        if not self._ready:
            return None, b""
        sandbox = self._take_live()
        self._full.clear()
        if not self._ready:
            self._has_ready.clear()
            self._need.set()  # empty: refill now rather than after the job
        if sandbox is None:
            return None, b""
        sandbox.started_at = None  # the job's wall clock starts when it is fed, not at warm-up
        try:
            return sandbox, job_frame(spec, sandbox.nonce) + spec.stdin
        except BaseException:
            self._backend.retire(sandbox)
            raise

    @property
    def _refilling(self) -> bool:
        """A container is being started, or soon will be (not while failing or closing: a job
        should not sit out `TAKE_WAIT_S` for a container that will not come)."""
        if self._closing or self._fill_failed:
            return False
        return self._in_flight > 0 or self._need.is_set()

    async def _wait_for_filler(self) -> None:
        self._waiting += 1
        try:
            async with asyncio.timeout(TAKE_WAIT_S):
                while not self._ready and self._refilling:
                    self._filled.clear()
                    await self._filled.wait()
        except TimeoutError:
            pass
        finally:
            self._waiting -= 1

    def _take_live(self) -> Sandbox | None:
        """The oldest ready container still running; dead ones (the engine restarted, or
        someone stopped them) are deleted in the background and replaced."""
        while self._ready:
            sandbox = self._ready.popleft()
            if sandbox.attached:
                return sandbox
            log.warning(
                "warm sandbox %s stopped while waiting for a job; replacing it", sandbox.name
            )
            self._need.set()
            self._backend.retire(sandbox)
        return None

    def replenish(self) -> None:
        """Start replacing used containers. Called when a job ends, so that creating the
        replacement (CPU-heavy in dockerd) does not compete with the job itself."""
        self._need.set()

    async def _fill(self) -> None:
        while not self._closing:
            await self._need.wait()
            # reserve a slot before awaiting so concurrent fillers do not overshoot
            if len(self._ready) + self._in_flight >= self.size:
                self._need.clear()
                continue
            self._in_flight += 1
            sandbox: Sandbox | None = None
            try:
                sandbox = await Sandbox.create(
                    self._backend.docker,
                    self._backend.image,
                    self.limits,
                    work_free_bytes(self.limits) + POOL_INPUT_BYTES,
                    self._backend.labels(),
                )
                try:
                    await sandbox.start()
                except BaseException:
                    await sandbox.destroy()
                    raise
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not pre-start a sandbox container")
                sandbox = None
            finally:
                self._in_flight -= 1
                self._fill_failed = sandbox is None
                self._filled.set()  # waiters look again once this continuation yields
            if sandbox is None:
                await asyncio.sleep(RETRY_DELAY_S)
                continue
            if self._closing:
                await sandbox.destroy()
                return
            sandbox.warm_since = time.monotonic()
            self._ready.append(sandbox)
            self._has_ready.set()
            if len(self._ready) >= self.size:
                self._full.set()

    async def _recycle(self) -> None:
        """Replace the oldest ready container whenever it reaches ``max_idle_s``."""
        while not self._closing:
            oldest = self._ready[0] if self._ready else None
            if oldest is None or oldest.warm_since is None:
                await asyncio.sleep(self.max_idle_s / 4)
                continue
            age = time.monotonic() - oldest.warm_since
            if age < self.max_idle_s:
                await asyncio.sleep(self.max_idle_s - age)
                continue
            with contextlib.suppress(ValueError):  # taken by a job meanwhile
                self._ready.remove(oldest)
                self._full.clear()
                if not self._ready:
                    self._has_ready.clear()
                self._need.set()
                try:
                    await oldest.destroy()
                except Exception:
                    log.exception("could not delete an idle sandbox container")

    async def close(self) -> None:
        self._closing = True
        self._filled.set()  # jobs waiting for a refill stop waiting
        for task in self._fillers:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._fillers, return_exceptions=True)
        self._fillers = []
        while self._ready:
            await self._ready.popleft().destroy()
