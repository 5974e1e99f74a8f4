"""Docker sandboxes (aiodocker): one hardened, never-reused container per job.

Each job gets a fresh container with no network, a read-only root, no capabilities,
``no-new-privileges``, uid 65534, memory == memory+swap, a pids limit, a CPU rate,
nofile/fsize/core ulimits, private IPC, an init process, a size-capped ``/tmp`` tmpfs, an empty
environment and the ``none`` log driver (output is read through attach, never stored by Docker).

The work directory ``/work/job`` is the container's own anonymous volume on a tmpfs whose size
the kernel enforces: the inputs, the output-files cap, and a page for each file the job may
return (the file system counts whole pages). A program writing past it gets ENOSPC and the job
ends ``output_exceeded``. A tmpfs volume lives only while its container runs, so the container
runs the supervisor in `supervisor` (``BOOTSTRAP``): it takes the job's files and stdin from
the attach stream, runs the program as its child exactly as ``python3 -u -B <entrypoint> <args>``
would, and when the program has ended (or on SIGUSR1, our "stop" for timeouts, cancellation and
output floods) kills every process but itself, writes one end-of-run line carrying this job's
nonce at the end of stdout and of stderr, and waits to be killed. The work directory is then
read through the archive API from the live container and parsed in memory
(`executor.archive`); the container is deleted afterwards.

The attach stream is opened before start so no output is lost; stdout and stderr are read
separately and live, capped while streaming. The worker enforces the wall-clock limit; OOM is
read from the memory cgroup's count of OOM kills (or ``State.OOMKilled`` when the container
itself died). Every container and volume carries the ``nimbus.sandbox`` label and the
installation's ``nimbus.sandbox.instance``; `reap_sandboxes` removes one installation's
leftovers after a crash and never another's. Every Docker call runs under a timeout, and every
raw response is read to its end or closed (`engine_response`): a response left mid-body keeps
an engine connection, and dockerd keeps the container locked while it streams into it. Images
are never pulled: `check` verifies the image exists.

`DockerBackend` (in `backend`) runs jobs in these sandboxes; with ``pool_size > 0`` in
pre-started ones from `pool.WarmPool`, each still used for exactly one job.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import posixpath
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiodocker
import aiohttp
from aiodocker.containers import DockerContainer
from aiodocker.stream import Stream

from executor import seccomp
from executor.archive import CollectedFiles, read_output_files
from executor.backends.base import (
    Limits,
    Outcome,
    OutputSink,
    RunResult,
    StreamName,
    split_exit_status,
)
from executor.backends.docker.supervisor import (
    BOOTSTRAP,
    END_PREFIX,
    POOL_INPUT_BYTES,
    pages,
    work_free_bytes,
)
from executor.backends.streams import OutputCollector
from executor.backends.supervision import Ending, rank_outcome, supervise

log = logging.getLogger(__name__)
T = TypeVar("T")

LABEL = "nimbus.sandbox"
LABEL_CREATED = "nimbus.sandbox.created"
LABEL_INSTANCE = "nimbus.sandbox.instance"
"""Which installation made the sandbox: a reaper removes its own installation's only."""
LABEL_OWNER = "nimbus.sandbox.owner"
"""Which backend object (one process) made it: a process never reaps its own."""
API_TIMEOUT_S = 30.0
"""Upper bound for any single Docker API call (create, start, kill, delete, archive, ...)."""
EXIT_GRACE_S = 5.0
"""How long to wait for the container to be reported dead after we killed it."""
STOP_GRACE_S = 2.0
"""How long the supervisor gets to end the program and report, once asked to stop."""
CLEANUP_DELAY_S = 0.05
"""After a job, how long the engine-heavy clean-up (deleting its container, starting a warm
replacement) waits. Started at once, it took both cores from the few statements that record the
result and answer `?wait`: ~18 ms from exit to response instead of ~10."""
JOB_DIR = "/work/job"
SANDBOX_UID = 65534
PYTHON = "/usr/bin/python3"
MIB = 1024 * 1024
EPOCH_MTIME = "1970-01-01T00:00:00Z"
MAX_STAT_PROBES = 8
"""Above this many input files/dirs, skip the mtime probe and always read the archive."""
MAX_END_LINE = 64


@dataclass(frozen=True, slots=True)
class Usage:
    cpu_time_ms: int | None = None
    peak_memory_bytes: int | None = None


CONTAINER_ID = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class CgroupFiles:
    """Where this host keeps a container's cgroup, for an engine on this host (``docker info``
    names the driver and version). The kernel's own count of the container's CPU time and peak
    memory: the program, what it started, and the sandbox's supervisor (a few ms and MB). Read
    by the host while the container still exists, so nothing in it can forge them. An engine
    elsewhere (or a host path we cannot see) gives None."""

    driver: str = "cgroupfs"
    version: str = "1"
    root: Path = Path("/sys/fs/cgroup")

    def _group(self, controller: str, container_id: str) -> Path:
        scope = (
            Path("system.slice", f"docker-{container_id}.scope")
            if self.driver == "systemd"
            else Path("docker", container_id)
        )
        return self.root / scope if self.version == "2" else self.root / controller / scope

    def read(self, container_id: str) -> Usage:
        if not CONTAINER_ID.fullmatch(container_id):
            return Usage()
        if self.version == "2":
            group = self._group("", container_id)
            stat = dict(
                line.split(maxsplit=1) for line in (_read(group / "cpu.stat") or "").splitlines()
            )
            usec = stat.get("usage_usec")
            cpu = round(int(usec) / 1000) if usec else None
            peak = _read(group / "memory.peak")
        else:
            ns = _read(self._group("cpuacct", container_id) / "cpuacct.usage")
            cpu = round(int(ns) / 1e6) if ns else None
            peak = _read(self._group("memory", container_id) / "memory.max_usage_in_bytes")
        return Usage(cpu, int(peak) if peak else None)


def _read(path: Path) -> str | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return text or None


class StoppedFromOutside(Exception):
    """The engine, not the program or Nimbus, ended the container: an infrastructure error."""


def work_full_message(limits: Limits) -> str:
    return (
        "the job's work directory is full: beside its inputs it holds at most "
        f"{work_free_bytes(limits)} bytes (the output-files cap of {limits.files_total_bytes} "
        "bytes, and a page for each file the job may return); writing more failed with "
        "'No space left on device'"
    )


async def api_call(awaitable: Awaitable[T], timeout_s: float = API_TIMEOUT_S) -> T:
    """Await one Docker API call, failing with TimeoutError after ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        return await awaitable


@contextlib.asynccontextmanager
async def engine_response(
    docker: aiodocker.Docker,
    path: str,
    method: str = "GET",
    params: Mapping[str, str] | None = None,
) -> AsyncIterator[aiohttp.ClientResponse]:
    """One raw Docker API response, released on every path (done, error, timeout, cancel).

    aiodocker's ``_query`` hands the response over and never releases it: one left mid-body
    keeps its pool connection until garbage collection, and dockerd keeps streaming into it
    (an archive holds the container's lock meanwhile: inspect and delete hang). A response read
    to its end goes back to the pool; any other is closed, never pooled half-read.
    """
    async with docker._query(path, method=method, params=dict(params or {})) as response:
        try:
            yield response
        finally:
            if response.content.at_eof():
                response.release()
            else:
                response.close()


def sandbox_labels(instance: str, owner: str = "") -> dict[str, str]:
    return {
        LABEL: "1",
        LABEL_INSTANCE: instance,
        LABEL_OWNER: owner,
        LABEL_CREATED: str(int(time.time())),
    }


def work_mount(size: int, limits: Limits, labels: Mapping[str, str]) -> dict[str, Any]:
    """An anonymous tmpfs volume of ``size`` bytes at ``/work/job``, owned by the sandbox user
    (0700). Its inodes are capped too: empty files take no pages but kernel memory."""
    options = (
        f"size={pages(size)},nr_inodes={4 * limits.max_files + 64},"
        f"uid={SANDBOX_UID},gid={SANDBOX_UID},mode=0700,nosuid,nodev"
    )
    return {  # anonymous: created with the container, deleted with it (``v=True``)
        "Type": "volume",
        "Target": JOB_DIR,
        "VolumeOptions": {
            "NoCopy": True,
            "Labels": dict(labels),
            "DriverConfig": {
                "Name": "local",
                "Options": {"type": "tmpfs", "device": "tmpfs", "o": options},
            },
        },
    }


def container_config(
    image: str,
    limits: Limits,
    command: list[str],
    *,
    work_bytes: int | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The complete, hardened container configuration. Nothing from the host leaks in.

    ``work_bytes`` sizes the work directory (default: room for a warm container's job)."""
    memory = limits.memory_mb * MIB
    labels = dict(labels or sandbox_labels(""))
    if work_bytes is None:
        work_bytes = work_free_bytes(limits) + POOL_INPUT_BYTES
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
            "Mounts": [work_mount(work_bytes, limits, labels)],
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


@dataclass(frozen=True, slots=True)
class EndOfRun:
    """What the supervisor reports once the program and every process it left are gone."""

    status: int
    """Shell-style: the exit code, or 128 + the signal that killed the program."""
    oom_killed: bool
    """The memory cgroup counted an OOM kill during the job."""
    work_full: bool
    """The work directory had no free page or inode left."""


class EndScanner:
    """Finds the supervisor's end-of-run line at the end of one output stream.

    Bytes that may begin the line are held back until the next chunk tells; everything else
    passes through at once, so the program's output reaches the sink byte for byte. The line
    is the last thing on the stream (nothing else is left to write): whatever follows is dropped.
    """

    def __init__(self, nonce: str) -> None:
        self._prefix = END_PREFIX + nonce.encode() + b" "
        self._held = b""
        self.line: bytes | None = None

    def feed(self, data: bytes) -> bytes:
        """The program's bytes in ``data`` (with any held before), minus the end-of-run line."""
        if self.line is not None:
            return b""
        data, self._held = self._held + data, b""
        at = data.find(self._prefix)
        if at >= 0:
            rest = data[at + len(self._prefix) :]
            end = rest.find(b"\n")
            if end >= 0:
                self.line = rest[:end]
            elif len(rest) <= MAX_END_LINE:
                self._held = data[at:]
            else:  # no line of ours is that long: the program printed it
                return data
            return data[:at]
        # a tail that may be the start of the line (it starts with the only NUL in it)
        at = data.find(b"\x00", max(0, len(data) - len(self._prefix) + 1))
        while at >= 0:
            if self._prefix.startswith(data[at:]):
                self._held = data[at:]
                return data[:at]
            at = data.find(b"\x00", at + 1)
        return data

    def flush(self) -> bytes:
        """What is held back, at the end of the stream: it was the program's."""
        held, self._held = self._held, b""
        return held


FORGED = EndOfRun(255, oom_killed=False, work_full=False)
"""What a report the supervisor did not write reads as (only the program could forge one, and
only about its own run)."""


def parse_end_line(stdout: bytes, stderr: bytes) -> EndOfRun:
    """The supervisor's report: the same ``status oom full`` line on both streams."""
    if stdout != stderr:
        return FORGED
    try:
        status, oom, full = (int(field) for field in stdout.split(b" "))
    except ValueError:
        return FORGED
    if not 0 <= status <= 255:
        return FORGED
    return EndOfRun(status, oom == 1, full == 1)


class Sandbox:
    """One container and its volume, for exactly one job. Build with `Sandbox.create`.

    The container runs the supervisor (``supervisor.BOOTSTRAP``) and waits for the job's
    frame (`supervisor.job_frame`) on its stdin."""

    def __init__(self, docker: aiodocker.Docker, name: str) -> None:
        self.docker = docker
        self.name = name
        self.container: DockerContainer | None = None
        self.created_at = time.time()
        self.started_at: float | None = None
        self.warm_since: float | None = None  # monotonic time it joined a warm pool
        self.nonce = secrets.token_hex(8)
        """Marks the supervisor's end-of-run line (not a secret: the program may forge its own
        report, which only misreports its own run)."""
        self.work_bytes = 0
        self.end: EndOfRun | None = None
        """Set when the supervisor reported: the container still runs and holds the files."""
        self._stream: Stream | None = None

    @classmethod
    async def create(
        cls,
        docker: aiodocker.Docker,
        image: str,
        limits: Limits,
        work_bytes: int,
        labels: Mapping[str, str],
    ) -> Sandbox:
        """Create the container (and its ``work_bytes`` work directory) and attach to it."""
        sandbox = cls(docker, f"nimbus-sbx-{uuid.uuid4().hex[:16]}")
        sandbox.work_bytes = work_bytes
        command = [PYTHON, "-u", "-B", "-c", BOOTSTRAP]  # -u: output as it is printed
        config = container_config(image, limits, command, work_bytes=work_bytes, labels=labels)
        try:
            sandbox.container = await api_call(docker.containers.create(config, name=sandbox.name))
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

    async def _pump(self, collector: OutputCollector) -> EndOfRun | None:
        """Stream the program's output until the supervisor's report ends both streams, or the
        stream ends (the container exited without one): None."""
        stream = self._attached()
        scanners: dict[StreamName, EndScanner] = {
            "stdout": EndScanner(self.nonce),
            "stderr": EndScanner(self.nonce),
        }
        while (message := await stream.read_out()) is not None:
            name: StreamName = "stderr" if message.stream == 2 else "stdout"
            data = scanners[name].feed(message.data)
            if data:
                await collector.feed(name, data)
            stdout, stderr = scanners["stdout"].line, scanners["stderr"].line
            if stdout is not None and stderr is not None:
                return parse_end_line(stdout, stderr)
        for stream_name, scanner in scanners.items():  # the stream ended: held bytes are output
            if tail := scanner.flush():
                await collector.feed(stream_name, tail)
        return None

    async def _signal(self, signal: str) -> None:
        try:
            await api_call(self._container().kill(signal=signal))
        except aiodocker.DockerError as exc:
            if exc.status != 409:  # 409: not running any more, which is what we wanted
                raise

    async def _exit_status(self) -> int:
        """The status of a container that exited (or is exiting)."""
        async with (
            asyncio.timeout(EXIT_GRACE_S),
            engine_response(self.docker, f"containers/{self.id}/wait", "POST") as response,
        ):
            body = await response.json()
        return int(body.get("StatusCode", -1))

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
        oom_killed = False
        try:
            run = await supervise(
                reader,
                deadline=deadline,
                cancel=cancel,
                overflow=collector.overflowed,
                # the supervisor ends the program and reports; the files stay readable
                stop=lambda: self._signal("SIGUSR1"),
                # the program stopped its supervisor: kill it all
                kill=lambda: self._signal("SIGKILL"),
                stop_grace_s=STOP_GRACE_S,
                kill_grace_s=EXIT_GRACE_S,
            )
            if not reader.done():
                raise TimeoutError(f"container {self.name} did not exit after SIGKILL")
            self.end = reader.result()  # stream errors are infrastructure errors
            finished = time.monotonic()
            await collector.finish()
            if self.end is not None:
                status, oom_killed = self.end.status, self.end.oom_killed
            else:  # the container itself ended: its supervisor died or was killed
                status = await self._exit_status()
                if status != 0 and not (run.timed_out or run.cancelled):
                    state = (await api_call(container.show()))["State"]
                    oom_killed = bool(state.get("OOMKilled"))
                    if status > 128 and not (oom_killed or run.stopped):
                        await self._raise_if_stopped_from_outside()
        finally:
            for task in (writer, reader):
                task.cancel()
            await asyncio.gather(writer, reader, return_exceptions=True)
        exit_code, signal = split_exit_status(status)
        work_full = self.end is not None and self.end.work_full
        outcome = rank_outcome(
            Ending(
                exit_code,
                cancelled=run.cancelled,
                timed_out=run.timed_out,
                memory_exceeded=oom_killed and status != 0,
                work_full=work_full,
                output_exceeded=collector.exceeded,
            )
        )
        full = work_full and outcome == Outcome.OUTPUT_EXCEEDED
        error = work_full_message(limits) if full else None
        return RunResult(
            outcome=outcome,
            exit_code=exit_code,
            signal=signal,
            stdout=collector.text("stdout"),
            stderr=collector.text("stderr"),
            stdout_truncated=collector.truncated["stdout"],
            stderr_truncated=collector.truncated["stderr"],
            duration_ms=round((finished - (self.started_at or started)) * 1000),
            error=error,
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
            engine_response(self.docker, "events", params={**params, "filters": filters}) as r,
        ):
            body = await r.read()
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
                engine_response(
                    self.docker, f"containers/{self.id}/archive", "HEAD", {"path": path}
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
        archive costs ~45 ms; a stat costs ~1 ms.
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
        """Read ``/work/job`` of the live container through the archive API, capped.

        ``unchanged`` are the job's inputs: they are not reported back unless modified. After
        a run without the supervisor's report the work directory is gone with its container.
        """
        if self.end is None:
            return CollectedFiles(truncated=True)
        if unchanged is not None and await self._inputs_untouched(unchanged):
            return CollectedFiles()
        # the whole work directory, tar headers included (the archive holds the inputs too)
        cap = pages(self.work_bytes) + 2048 * (4 * limits.max_files + 64)
        buf = bytearray()
        cut_short = False
        # aiodocker's get_archive buffers the whole body; we need a cap, so stream it
        async with (
            asyncio.timeout(API_TIMEOUT_S),
            engine_response(
                self.docker, f"containers/{self.id}/archive", "GET", {"path": JOB_DIR}
            ) as response,
        ):
            async for chunk in response.content.iter_chunked(64 * 1024):
                buf += chunk
                if len(buf) > cap:
                    cut_short = True
                    break  # engine_response closes the connection: never pooled half-read
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
