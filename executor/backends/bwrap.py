"""Bubblewrap sandbox backend: the fallback when no Docker engine answers. WEAKER than Docker.

Each job runs ``python3`` from the host's own ``/usr`` (bound read-only) inside fresh user, pid,
network, IPC, UTS and cgroup namespaces (``--unshare-all``: only a loopback-less network), with
``--die-with-parent``, ``--new-session``, every capability dropped, an empty environment, uid
65534, a private ``/proc`` and ``/dev``, a size-capped ``/tmp`` tmpfs and the job's own directory
bound at ``/work/job``. Resource limits are rlimits set with ``prlimit`` (address space, file
size, open files, processes, CPU seconds, no core files); the worker kills it at the wall-clock
limit and caps output while streaming.

Why weaker than Docker: it shares the host kernel *and* the host's ``/usr`` (host tools and
libraries are visible read-only); memory is an address-space rlimit, not a cgroup (a memory bomb
surfaces as ``MemoryError``, reported as ``memory_exceeded`` by matching the traceback's last
line); RLIMIT_NPROC counts every process of uid 65534 on the host, so concurrent jobs share it,
and it does not apply when bwrap cannot switch to uid 65534; there is no CPU rate limit (only CPU
seconds) and no disk quota beyond the per-file size limit.

Output files are read after the sandbox is gone (its pid namespace dies with it) with
``os.fwalk`` and ``O_NOFOLLOW`` opens; only regular files with a single link are taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from executor.archive import CollectedFiles
from executor.backends.base import (
    ExecutorUnavailable,
    InvalidJob,
    JobSpec,
    Limits,
    Outcome,
    OutputFile,
    OutputSink,
    RunResult,
    StreamName,
    outcome_for_exit,
)
from executor.backends.streams import OutputCollector

SANDBOX_UID = 65534
KILL_GRACE_S = 5.0
INSTALL_HINT = "apt-get install bubblewrap"


class BwrapBackend:
    """`SandboxBackend` on bubblewrap. See the module docstring for what it does not protect."""

    name = "bwrap"

    def __init__(
        self,
        bwrap: str | None = None,
        python: str = "/usr/bin/python3",
        work_root: str | None = None,
    ) -> None:
        self.bwrap = bwrap or shutil.which("bwrap")
        self.prlimit = shutil.which("prlimit")
        self.setpriv = shutil.which("setpriv")
        self.python = python
        self.work_root = work_root

    async def check(self) -> None:
        if self.bwrap is None or not await asyncio.to_thread(os.access, self.bwrap, os.X_OK):
            raise ExecutorUnavailable(f"bubblewrap is not installed: {INSTALL_HINT}")
        if self.prlimit is None:
            raise ExecutorUnavailable("prlimit is missing: apt-get install util-linux")
        if not await asyncio.to_thread(os.path.exists, self.python):
            raise ExecutorUnavailable(f"{self.python} is missing: apt-get install python3")
        proc = await asyncio.create_subprocess_exec(
            *self._bwrap_args(Limits(), Path("/nonexistent"), bind_work=False),
            "/usr/bin/true",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(10):
            _, err = await proc.communicate()
        if proc.returncode != 0:
            raise ExecutorUnavailable(
                f"bubblewrap cannot create namespaces here ({err.decode(errors='replace')!r}); "
                "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)"
            )

    def _bwrap_args(self, limits: Limits, work: Path, *, bind_work: bool = True) -> list[str]:
        if self.bwrap is None or self.prlimit is None:
            raise ExecutorUnavailable(f"bubblewrap or prlimit is not installed: {INSTALL_HINT}")
        memory = limits.memory_mb * 1024 * 1024
        cpu_s = max(1, int(limits.wall_time_s) + 1)
        args = [
            self.prlimit,
            f"--as={memory}:{memory}",
            f"--fsize={limits.max_file_bytes}:{limits.max_file_bytes}",
            f"--nofile={limits.nofile}:{limits.nofile}",
            f"--nproc={limits.pids}:{limits.pids}",
            f"--cpu={cpu_s}:{cpu_s}",
            "--core=0:0",
            "--",
        ]
        if os.geteuid() == 0 and self.setpriv is not None:
            # As root, bwrap's user namespace would map the sandbox to host uid 0, which
            # RLIMIT_NPROC exempts; drop to 65534 first so the sandbox really is "nobody".
            args += [
                self.setpriv,
                f"--reuid={SANDBOX_UID}",
                f"--regid={SANDBOX_UID}",
                "--clear-groups",
                "--",
            ]
        args += [
            self.bwrap,
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--clearenv",
            "--setenv",
            "PATH",
            "/usr/bin:/bin",
            "--uid",
            str(SANDBOX_UID),
            "--gid",
            str(SANDBOX_UID),
            "--hostname",
            "sandbox",
            "--ro-bind",
            "/usr",
            "/usr",
        ]
        for link in ("bin", "lib", "lib64", "sbin"):
            if Path("/", link).is_symlink():
                args += ["--symlink", os.readlink(Path("/", link)), f"/{link}"]
            elif Path("/", link).is_dir():
                args += ["--ro-bind", f"/{link}", f"/{link}"]
        args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--size", str(limits.tmpfs_mb * 1024 * 1024), "--tmpfs", "/tmp"]  # noqa: S108
        if bind_work:
            args += ["--bind", str(work), "/work/job", "--chdir", "/work/job"]
        args += ["--remount-ro", "/", "--"]
        return args

    async def run(
        self, spec: JobSpec, sink: OutputSink | None = None, cancel: asyncio.Event | None = None
    ) -> RunResult:
        try:
            spec = spec.validated()
        except InvalidJob as exc:
            return RunResult(outcome=Outcome.ERROR, error=str(exc))
        if self.bwrap is None or self.prlimit is None:
            return RunResult(outcome=Outcome.ERROR, error=f"bubblewrap missing: {INSTALL_HINT}")
        base = Path(tempfile.mkdtemp(prefix="nimbus-bwrap-", dir=self.work_root))
        try:
            work = base / "job"
            _write_inputs(work, spec.files)
            return await self._run_in(work, spec, sink, cancel)
        except OSError as exc:
            return RunResult(outcome=Outcome.ERROR, error=f"sandbox failure: {exc}")
        finally:
            # rmtree is fd-based on Linux and does not follow symlinks the sandbox left behind
            await asyncio.to_thread(shutil.rmtree, base, True)

    async def _run_in(
        self, work: Path, spec: JobSpec, sink: OutputSink | None, cancel: asyncio.Event | None
    ) -> RunResult:
        limits = spec.limits
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *self._bwrap_args(limits, work),
            self.python,
            "-B",  # no __pycache__ next to the user's files
            spec.entrypoint,
            *spec.args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={},
        )
        stdin, stdout, stderr_pipe = proc.stdin, proc.stdout, proc.stderr
        if stdin is None or stdout is None or stderr_pipe is None:
            raise RuntimeError("subprocess pipes missing")
        collector = OutputCollector(limits.output_bytes, sink)

        async def feed() -> None:
            with contextlib.suppress(OSError):  # the program may exit without reading
                stdin.write(spec.stdin)
                await stdin.drain()
                stdin.close()

        async def pump(reader: asyncio.StreamReader, name: StreamName) -> None:
            # read to EOF even past the cap (the collector drops it): asyncio reports the
            # process as exited only once its pipes are drained
            while True:
                chunk = await reader.read(64 * 1024)
                if not chunk:
                    return
                await collector.feed(name, chunk)

        readers = [
            asyncio.create_task(pump(stdout, "stdout")),
            asyncio.create_task(pump(stderr_pipe, "stderr")),
        ]
        writer = asyncio.create_task(feed())
        exited = asyncio.create_task(proc.wait())
        cancelled = asyncio.create_task(cancel.wait()) if cancel is not None else None
        overflow = asyncio.create_task(collector.overflowed.wait())
        watch: set[asyncio.Task[object]] = {exited, overflow}
        if cancelled is not None:
            watch.add(cancelled)
        deadline = started + limits.wall_time_s
        timed_out = was_cancelled = False
        try:
            while not exited.done():
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
            if not exited.done():
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()  # bwrap dies, --die-with-parent takes the sandbox's pid 1 along
                await asyncio.wait({exited}, timeout=KILL_GRACE_S)
            await asyncio.wait(readers, timeout=2.0)
            finished = time.monotonic()
            await collector.finish()
        finally:
            helpers = (*readers, writer, exited, overflow, *([cancelled] if cancelled else []))
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
        status = proc.returncode if proc.returncode is not None else -9
        exit_code, signal = (128 - status, -status) if status < 0 else (status, None)
        if signal is None and status > 128:
            signal = status - 128
        stderr = collector.text("stderr")
        if was_cancelled:
            outcome = Outcome.CANCELLED
        elif timed_out:
            outcome = Outcome.TIMED_OUT
        elif collector.exceeded:
            outcome = Outcome.OUTPUT_EXCEEDED
        elif exit_code != 0 and stderr.rstrip().endswith("MemoryError"):
            outcome = Outcome.MEMORY_EXCEEDED
        elif signal == 24:
            outcome = Outcome.TIMED_OUT  # SIGXCPU: the CPU-seconds rlimit
        else:
            outcome = outcome_for_exit(exit_code)
        collected = await asyncio.to_thread(collect_files, work, limits, spec.files)
        return RunResult(
            outcome=outcome,
            exit_code=exit_code,
            signal=signal,
            stdout=collector.text("stdout"),
            stderr=stderr,
            stdout_truncated=collector.truncated["stdout"],
            stderr_truncated=collector.truncated["stderr"],
            duration_ms=round((finished - started) * 1000),
            files=collected.files,
            files_truncated=collected.truncated,
        )

    async def close(self) -> None:
        return None


def _write_inputs(work: Path, files: Mapping[str, bytes]) -> None:
    """Create the job dir before the sandbox exists, so no path here is sandbox-controlled."""
    work.parent.chmod(0o711)  # the unprivileged bwrap must reach job/ (itself 0700, 65534)
    work.mkdir(mode=0o700)
    for path, content in files.items():
        target = work / path
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(content)
    if os.geteuid() == 0:
        # the sandbox runs as 65534; hand it the (still host-created, link-free) tree
        for dirpath, dirnames, filenames in os.walk(work):
            for name in (*dirnames, *filenames):
                os.chown(
                    os.path.join(dirpath, name), SANDBOX_UID, SANDBOX_UID, follow_symlinks=False
                )
        os.chown(work, SANDBOX_UID, SANDBOX_UID)


def collect_files(work: Path, limits: Limits, unchanged: Mapping[str, bytes]) -> CollectedFiles:
    """Read regular files under ``work`` without following anything the sandbox created."""
    result = CollectedFiles()
    total = 0
    try:
        walker = os.fwalk(work, follow_symlinks=False)
        for dirpath, _dirnames, filenames, dir_fd in walker:
            rel_dir = os.path.relpath(dirpath, work)
            for name in sorted(filenames):
                rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                content = _read_regular(name, dir_fd, limits.max_file_bytes)
                if content is None:
                    result.rejected.append(rel)
                    continue
                if unchanged.get(rel) == content:
                    continue
                if len(result.files) >= limits.max_files or (
                    total + len(content) > limits.files_total_bytes
                ):
                    result.truncated = True
                    continue
                total += len(content)
                result.files.append(OutputFile.of(rel, content))
    except OSError:
        result.truncated = True
    result.files.sort(key=lambda f: f.path)
    return result


def _read_regular(name: str, dir_fd: int, max_bytes: int) -> bytes | None:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return None  # a symlink (ELOOP), vanished, or unreadable
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or st.st_size > max_bytes:
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read(max_bytes + 1)[:max_bytes]
    finally:
        os.close(fd)
