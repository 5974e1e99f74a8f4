"""Docker sandbox backend (aiodocker): one hardened, never-reused container per job.

Each job gets a fresh container with a fresh anonymous volume mounted at ``/work``: Docker fills
it from the image, whose ``/work/job`` is owned by 65534 (mode 0700); the job's files are
uploaded into it before start, and the container runs ``python3 <entrypoint> <args>`` in
``/work/job`` with no network, a read-only root, no capabilities, ``no-new-privileges``, uid
65534, memory == memory+swap, a pids limit, a CPU rate, nofile/fsize/core ulimits, private IPC,
an init process, a size-capped ``/tmp`` tmpfs, an empty environment and the ``none`` log driver
(output is read through attach, never stored by Docker).

The attach stream is opened before start so no output is lost; stdout and stderr are read
separately and live, capped while streaming. The worker enforces the wall-clock limit by killing
the container; OOM is read from ``State.OOMKilled`` (after our own timeout flag, since both end in
exit 137). After exit the work directory comes back through the archive API and is parsed in
memory (`executor.archive`). Every container and volume carries the ``nimbus.sandbox`` label; the
volume belongs to its container and is deleted with it after the job, and `reap_sandboxes`
removes leftovers after a crash. (A named volume per job costs two more Docker calls and an
upload of the empty ``job/`` directory: about a fifth of the engine's work per job.) Every Docker
call runs under a timeout. Images are never pulled: `check` verifies the image exists.

With ``pool_size > 0`` jobs run in pre-started containers from `executor.pool.WarmPool` instead,
each still used for exactly one job.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import posixpath
import time
import uuid
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import aiodocker
import aiohttp
from aiodocker.containers import DockerContainer
from aiodocker.stream import Stream

from executor import seccomp
from executor.archive import CollectedFiles, build_input_tar, read_output_files
from executor.backends.base import (
    DEFAULT_LIMITS,
    ExecutorUnavailable,
    InvalidJob,
    JobSpec,
    Limits,
    Outcome,
    OutputSink,
    RunResult,
    outcome_for_exit,
    split_exit_status,
)
from executor.backends.streams import OutputCollector
from executor.image.build import DEFAULT_TAG

if TYPE_CHECKING:
    from executor.pool import WarmPool

log = logging.getLogger(__name__)
T = TypeVar("T")

LABEL = "nimbus.sandbox"
LABEL_CREATED = "nimbus.sandbox.created"
API_TIMEOUT_S = 30.0
"""Upper bound for any single Docker API call (create, start, kill, delete, archive, ...)."""
EXIT_GRACE_S = 5.0
"""How long to wait for the container to be reported dead after we killed it."""
DRAIN_GRACE_S = 2.0
"""After exit, how long to wait for the tail of the output stream."""
CLEANUP_DELAY_S = 0.05
"""After a job, how long the engine-heavy clean-up (deleting its container, starting a warm
replacement) waits. Started at once, it took both cores from the few statements that record the
result and answer `?wait`: ~18 ms from exit to response instead of ~10."""
WORK_MOUNT = "/work"
JOB_DIR = "/work/job"
SANDBOX_UID = 65534
PYTHON = "/usr/bin/python3"
MIB = 1024 * 1024
EPOCH_MTIME = "1970-01-01T00:00:00Z"
MAX_STAT_PROBES = 8
"""Above this many input files/dirs, skip the mtime probe and always read the archive."""


class StoppedFromOutside(Exception):
    """The engine, not the program or Nimbus, ended the container: an infrastructure error."""


async def api_call(awaitable: Awaitable[T], timeout_s: float = API_TIMEOUT_S) -> T:
    """Await one Docker API call, failing with TimeoutError after ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        return await awaitable


def sandbox_labels() -> dict[str, str]:
    return {LABEL: "1", LABEL_CREATED: str(int(time.time()))}


def container_config(image: str, limits: Limits, command: list[str]) -> dict[str, Any]:
    """The complete, hardened container configuration. Nothing from the host leaks in."""
    memory = limits.memory_mb * MIB
    labels = sandbox_labels()
    return {
        "Image": image,
        "Cmd": command,
        "Entrypoint": None,
        "User": f"{SANDBOX_UID}:{SANDBOX_UID}",
        "WorkingDir": JOB_DIR,
        "Env": [],
        "Labels": labels,
        "NetworkDisabled": True,
        "AttachStdin": True,
        "AttachStdout": True,
        "AttachStderr": True,
        "OpenStdin": True,
        "StdinOnce": True,
        "Tty": False,
        "HostConfig": {
            "NetworkMode": "none",
            "ReadonlyRootfs": True,
            "CapDrop": ["ALL"],
            "SecurityOpt": ["no-new-privileges", seccomp.docker_security_opt()],
            "Privileged": False,
            "Memory": memory,
            "MemorySwap": memory,
            "PidsLimit": limits.pids,
            "NanoCpus": int(limits.cpus * 1e9),
            "Ulimits": [
                {"Name": "nofile", "Soft": limits.nofile, "Hard": limits.nofile},
                {"Name": "fsize", "Soft": limits.max_file_bytes, "Hard": limits.max_file_bytes},
                {"Name": "core", "Soft": 0, "Hard": 0},
            ],
            "IpcMode": "private",
            "Init": True,
            "Tmpfs": {"/tmp": f"rw,noexec,nosuid,nodev,size={limits.tmpfs_mb}m,mode=1777"},  # noqa: S108
            "Mounts": [
                {  # anonymous: created with the container, deleted with it (``v=True``)
                    "Type": "volume",
                    "Target": WORK_MOUNT,
                    "VolumeOptions": {"NoCopy": False, "Labels": labels},
                }
            ],
            "AutoRemove": False,
            "LogConfig": {"Type": "none", "Config": {}},
            "RestartPolicy": {"Name": "no"},
        },
    }


def _half_close(stream: Stream) -> None:
    """Send EOF on the attach connection's write side (the container sees stdin close).

    aiodocker's `Stream.close` also closes the read side, so we reach the transport directly.
    """
    resp = stream._resp
    if resp is None or resp.connection is None:
        return
    transport = resp.connection.transport
    if transport is not None and transport.can_write_eof():
        transport.write_eof()


class Sandbox:
    """One container and its volume, for exactly one job. Build with `Sandbox.create`."""

    def __init__(self, docker: aiodocker.Docker, name: str) -> None:
        self.docker = docker
        self.name = name
        self.container: DockerContainer | None = None
        self.created_at = time.time()
        self.started_at: float | None = None
        self.warm_since: float | None = None  # monotonic time it joined a warm pool
        self._stream: Stream | None = None

    @classmethod
    async def create(
        cls,
        docker: aiodocker.Docker,
        image: str,
        limits: Limits,
        command: list[str],
        files: Mapping[str, bytes],
    ) -> Sandbox:
        """Create the container (and its volume), upload ``files`` into ``/work/job``, attach."""
        sandbox = cls(docker, f"nimbus-sbx-{uuid.uuid4().hex[:16]}")
        try:
            sandbox.container = await api_call(
                docker.containers.create(
                    container_config(image, limits, command), name=sandbox.name
                )
            )
            if files:
                await api_call(
                    sandbox.container.put_archive(  # type: ignore[no-untyped-call]
                        WORK_MOUNT, build_input_tar(files)
                    )
                )
            # open the attach connection now: output written before it exists is lost
            sandbox._stream = sandbox.container.attach(stdin=True, stdout=True, stderr=True)
            await api_call(sandbox._stream.__aenter__())
        except BaseException:
            await sandbox.destroy()
            raise
        return sandbox

    @property
    def id(self) -> str:
        return self._container().id

    def _container(self) -> DockerContainer:
        if self.container is None:
            raise RuntimeError("sandbox container was not created")
        return self.container

    def _attached(self) -> Stream:
        if self._stream is None:
            raise RuntimeError("sandbox stream is not attached")
        return self._stream

    async def start(self) -> None:
        await api_call(self._container().start())
        self.started_at = time.monotonic()

    @property
    def attached(self) -> bool:
        """The attach connection is still open: the container has not exited, and the engine
        that runs it has not restarted (a restart stops every container). Docker ends the
        stream when the container's output closes, so a warm container that was stopped while
        waiting for its job shows up here without a Docker call."""
        stream = self._stream
        queue = None if stream is None else stream._queue
        if stream is None or stream._resp is None or queue is None:
            return False
        connection = stream._resp.connection
        transport = None if connection is None else connection.transport
        return not (
            queue.is_eof()
            or queue.exception() is not None
            or transport is None
            or transport.is_closing()
        )

    async def _feed_stdin(self, payload: bytes) -> None:
        stream = self._attached()
        try:
            view = memoryview(payload)
            for offset in range(0, len(view), 64 * 1024):
                await stream.write_in(bytes(view[offset : offset + 64 * 1024]))
            _half_close(stream)
        except (OSError, RuntimeError, aiohttp.ClientError) as exc:
            # the program exited (or closed stdin) before reading everything: not an error
            log.debug("stdin write to %s stopped: %s", self.name, exc)

    async def _pump(self, collector: OutputCollector) -> None:
        # Read to EOF even past the cap (the collector drops the excess): a stream left
        # unread stalls dockerd's exit handling, and then even SIGKILL "hangs".
        stream = self._attached()
        while (message := await stream.read_out()) is not None:
            await collector.feed("stderr" if message.stream == 2 else "stdout", message.data)

    async def _kill(self) -> None:
        try:
            await api_call(self._container().kill(signal="SIGKILL"))
        except aiodocker.DockerError as exc:
            if exc.status != 409:  # 409: not running any more, which is what we wanted
                raise

    async def execute(
        self,
        payload: bytes,
        limits: Limits,
        sink: OutputSink | None,
        cancel: asyncio.Event | None,
    ) -> RunResult:
        """Feed ``payload`` to stdin, stream output, enforce limits, return how it ended.

        The container must be started; the wall clock starts at ``started_at`` (or now).
        """
        container = self._container()
        started = time.monotonic()
        deadline = (self.started_at or started) + limits.wall_time_s
        collector = OutputCollector(limits.output_bytes, sink)
        writer = asyncio.create_task(self._feed_stdin(payload))
        reader = asyncio.create_task(self._pump(collector))
        waiter = asyncio.create_task(container.wait())
        cancelled = asyncio.create_task(cancel.wait()) if cancel is not None else None
        overflow = asyncio.create_task(collector.overflowed.wait())
        tasks: set[asyncio.Task[Any]] = {writer, reader, waiter, overflow}
        watch: set[asyncio.Task[Any]] = {reader, waiter, overflow}
        if cancelled is not None:
            watch.add(cancelled)
        timed_out = was_cancelled = killed = False
        try:
            while not waiter.done():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                done, _ = await asyncio.wait(
                    watch, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                if cancelled is not None and cancelled in done:
                    was_cancelled = True
                    break
                if overflow in done:
                    break
                if reader in done:
                    watch.discard(reader)
                    reader.result()  # surface stream errors as infrastructure errors
            killed = not waiter.done()  # timed out, cancelled or flooding: we end it
            if killed:
                await self._kill()
                await asyncio.wait({waiter}, timeout=EXIT_GRACE_S)
            elif not reader.done():
                await asyncio.wait({reader}, timeout=DRAIN_GRACE_S)
            if not waiter.done():
                raise TimeoutError(f"container {self.name} did not exit after SIGKILL")
            status = int(waiter.result().get("StatusCode", -1))
            finished = time.monotonic()
            await collector.finish()
            # OOMKilled is only in the container's state: worth a call when the program failed
            oom_killed = False
            if status != 0 and not (timed_out or was_cancelled):
                state = (await api_call(container.show()))["State"]
                oom_killed = bool(state.get("OOMKilled"))
                if status > 128 and not (oom_killed or killed):
                    await self._raise_if_stopped_from_outside()
        finally:
            for task in tasks | ({cancelled} if cancelled else set()):
                task.cancel()
            await asyncio.gather(
                *tasks, *([cancelled] if cancelled else []), return_exceptions=True
            )
        exit_code, signal = split_exit_status(status)
        if was_cancelled:
            outcome = Outcome.CANCELLED
        elif timed_out:
            outcome = Outcome.TIMED_OUT
        elif oom_killed:
            outcome = Outcome.MEMORY_EXCEEDED
        elif collector.exceeded:
            outcome = Outcome.OUTPUT_EXCEEDED
        else:
            outcome = outcome_for_exit(exit_code)
        return RunResult(
            outcome=outcome,
            exit_code=exit_code,
            signal=signal,
            stdout=collector.text("stdout"),
            stderr=collector.text("stderr"),
            stdout_truncated=collector.truncated["stdout"],
            stderr_truncated=collector.truncated["stderr"],
            duration_ms=round((finished - (self.started_at or started)) * 1000),
        )

    async def _raise_if_stopped_from_outside(self) -> None:
        """`StoppedFromOutside` when the engine signalled the container (a daemon restart
        stops every container; an operator may ``docker stop`` one): that death is not the
        program's doing. Only a signal the engine sent leaves a ``kill`` event — not one the
        program sent itself, nor the kernel's OOM killer — and the daemon still answers while
        it stops containers, before it exits."""
        filters = json.dumps({"container": [self.id], "event": ["kill"]})
        # `until` must not be in the future: the engine would hold the answer open until then
        params = {"since": f"{self.created_at - 1:.6f}", "until": f"{time.time():.6f}"}
        async with (
            asyncio.timeout(API_TIMEOUT_S),
            self.docker._query("events", params={**params, "filters": filters}) as response,
        ):
            body = await response.read()
        kills = body.splitlines()
        if kills:
            signal = json.loads(kills[0]).get("Actor", {}).get("Attributes", {}).get("signal")
            raise StoppedFromOutside(
                f"the Docker engine stopped the container (signal {signal}): "
                "it was restarting, or an operator stopped it"
            )

    async def _path_stat(self, path: str) -> dict[str, Any] | None:
        """Docker's stat of ``path`` in the container (one cheap HEAD; no archive is built)."""
        try:
            async with (
                asyncio.timeout(API_TIMEOUT_S),
                self.docker._query(
                    f"containers/{self.id}/archive", method="HEAD", params={"path": path}
                ) as response,
            ):
                header = response.headers.get("X-Docker-Container-Path-Stat")
        except (aiodocker.DockerError, json.JSONDecodeError):
            # a path the program removed: 404, whose empty body aiodocker fails to read as JSON
            return None
        if header is None:
            return None
        stat: dict[str, Any] = json.loads(base64.b64decode(header))
        return stat

    async def _inputs_untouched(self, inputs: Mapping[str, bytes]) -> bool:
        """True when the work dir provably holds only the unchanged inputs.

        Inputs (and their directories) are created with mtime 0; any file created, removed or
        renamed bumps a directory's mtime, any write bumps the file's. A program could set mtimes
        back to 0 and so hide its own output from itself, which harms nobody. Building the
        archive costs ~60 ms on a stopped container; a stat costs ~5 ms.
        """
        entries: dict[str, int | None] = {JOB_DIR: None}
        for path, content in inputs.items():
            parts = path.split("/")
            for i in range(1, len(parts)):
                entries[posixpath.join(JOB_DIR, *parts[:i])] = None
            entries[posixpath.join(JOB_DIR, path)] = len(content)
        if len(entries) > MAX_STAT_PROBES:
            return False
        stats = await asyncio.gather(*(self._path_stat(p) for p in entries))
        for (path, size), stat in zip(entries.items(), stats, strict=True):
            if stat is None or stat.get("mtime") != EPOCH_MTIME or stat.get("linkTarget"):
                return False
            if size is not None and stat.get("size") != size:
                log.debug("%s changed size", path)
                return False
        return True

    async def collect_files(
        self, limits: Limits, unchanged: Mapping[str, bytes] | None = None
    ) -> CollectedFiles:
        """Read ``/work/job`` of the stopped container through the archive API, capped.

        ``unchanged`` are the job's inputs: they are not reported back unless modified.
        """
        if unchanged is not None and await self._inputs_untouched(unchanged):
            return CollectedFiles()
        cap = limits.files_total_bytes + 1024 * (limits.max_files + 1)
        buf = bytearray()
        cut_short = False
        async with asyncio.timeout(API_TIMEOUT_S):
            # aiodocker's get_archive buffers the whole body; we need a cap, so stream it
            async with self.docker._query(
                f"containers/{self.id}/archive", method="GET", params={"path": JOB_DIR}
            ) as response:
                async for chunk in response.content.iter_chunked(64 * 1024):
                    buf += chunk
                    if len(buf) > cap:
                        cut_short = True
                        break
        return read_output_files(
            bytes(buf),
            strip_prefix="job/",
            max_files=limits.max_files,
            max_file_bytes=limits.max_file_bytes,
            max_total_bytes=limits.files_total_bytes,
            unchanged=unchanged,
            cut_short=cut_short,
        )

    async def destroy(self) -> None:
        """Close the stream, delete the container and its volume. Never raises."""
        if self._stream is not None:
            with contextlib.suppress(Exception):
                await api_call(self._stream.close())
        if self.container is not None:
            try:
                await api_call(self.container.delete(force=True, v=True))
            except aiodocker.DockerError as exc:
                if exc.status != 404:
                    log.warning("could not delete container %s: %s", self.name, exc)
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                log.warning("could not delete container %s: %s", self.name, exc)


async def _delete_volume(docker: aiodocker.Docker, name: str) -> None:
    from aiodocker.volumes import DockerVolume

    volume = DockerVolume(docker, name)  # type: ignore[no-untyped-call]
    try:
        await api_call(volume.delete(force=True))  # type: ignore[no-untyped-call]
    except aiodocker.DockerError as exc:
        if exc.status != 404:
            raise


async def reap_sandboxes(
    docker: aiodocker.Docker, *, older_than_s: float = 0.0, keep: frozenset[str] = frozenset()
) -> int:
    """Delete labelled containers older than ``older_than_s`` and not in ``keep`` (sandbox names
    still in use by this process), then labelled volumes as old that no container uses.

    Run it when a worker starts (after a crash nothing else will) and periodically. A sandbox's
    volume is referenced by its container, so an old unused one is a leftover. The age matters
    for volumes too: Docker creates a volume just before its container, and while a worker on
    this engine is creating a sandbox its brand-new volume is briefly unused.
    """
    cutoff = time.time() - older_than_s
    filters = json.dumps({"label": [f"{LABEL}=1"]})
    removed = 0
    containers = await api_call(docker.containers.list(all=True, filters=filters))
    for container in containers:
        labels = container._container.get("Labels") or {}
        names = {n.lstrip("/") for n in container._container.get("Names") or []}
        if names & keep or float(labels.get(LABEL_CREATED, 0)) > cutoff:
            continue
        try:
            await api_call(container.delete(force=True, v=True))
            removed += 1
        except aiodocker.DockerError as exc:
            if exc.status != 404:
                log.warning("reaper could not delete container %s: %s", container.id, exc)
    volumes = await api_call(
        docker.volumes.list(  # type: ignore[no-untyped-call]
            filters={"label": [f"{LABEL}=1"], "dangling": ["true"]}
        )
    )
    for volume in volumes.get("Volumes") or []:
        if float((volume.get("Labels") or {}).get(LABEL_CREATED, 0)) > cutoff:
            continue
        try:
            await _delete_volume(docker, volume["Name"])
            removed += 1
        except aiodocker.DockerError as exc:
            # 409: a container started using it meanwhile (not ours to judge: leave it)
            log.warning("reaper could not delete volume %s: %s", volume["Name"], exc)
    return removed


def open_docker(docker_host: str | None) -> aiodocker.Docker:
    """An aiodocker client; `ExecutorUnavailable` when there is no engine to talk to.

    aiodocker asserts (rather than raising an error) when no host is given and no default socket
    exists, which is the normal state of a machine without Docker.
    """
    try:
        return aiodocker.Docker(url=docker_host)
    except AssertionError as exc:
        raise ExecutorUnavailable(
            "No Docker engine found (no DOCKER_HOST and no /var/run/docker.sock): install and "
            "start Docker (apt-get install docker.io), or set NIMBUS_EXECUTOR_BACKEND=bwrap"
        ) from exc


class DockerBackend:
    """`SandboxBackend` on a Docker engine. ``pool_size`` pre-started containers hide start-up."""

    name = "docker"

    def __init__(
        self,
        docker_host: str | None = None,
        image: str = DEFAULT_TAG,
        *,
        pool_size: int = 0,
        pool_limits: Limits = DEFAULT_LIMITS,
        pool_max_idle_s: float | None = None,
    ) -> None:
        self.docker_host = docker_host
        self.image = image
        self._docker: aiodocker.Docker | None = None
        self._pool_size = pool_size
        self._pool_limits = pool_limits
        self._pool_max_idle_s = pool_max_idle_s
        self._pool: WarmPool | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self._live: set[str] = set()

    @property
    def docker(self) -> aiodocker.Docker:
        if self._docker is None:
            self._docker = open_docker(self.docker_host)
        return self._docker

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
        if self._pool_size > 0 and self._pool is None:
            from executor.pool import MAX_IDLE_S, WarmPool

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
            if self._pool is not None:
                sandbox, payload = await self._pool.take(spec)
                if sandbox is not None and cancel is not None and cancel.is_set():
                    return RunResult(outcome=Outcome.CANCELLED)  # while it waited for the pool
            if sandbox is None:
                command = [PYTHON, "-B", spec.entrypoint, *spec.args]  # -B: no __pycache__
                sandbox = await Sandbox.create(self.docker, self.image, limits, command, spec.files)
                self._live.add(sandbox.name)
                if cancel is not None and cancel.is_set():
                    return RunResult(outcome=Outcome.CANCELLED)
                await sandbox.start()
                payload = spec.stdin
            self._live.add(sandbox.name)
            result = await sandbox.execute(payload, limits, sink, cancel)
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
        return await reap_sandboxes(self.docker, older_than_s=older_than_s, keep=frozenset(keep))

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        await self.drain()
        if self._docker is not None:
            await self._docker.close()
            self._docker = None
