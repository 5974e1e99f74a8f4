"""Bubblewrap sandbox backend: the fallback when no Docker engine answers. WEAKER than Docker.

Each job runs ``python3`` from the host's own ``/usr`` (bound read-only, ``nosuid``, every
setuid/setgid file hidden under an empty device) inside fresh user, pid, network, IPC, UTS and
cgroup namespaces (``--unshare-all``: only a loopback-less network) with further user namespaces
disabled (``--disable-userns``), Nimbus's seccomp filter (`executor.seccomp`, the rules Docker
gets too), ``--die-with-parent``, ``--new-session``, every capability dropped, an empty
environment, uid 65534 inside, a private ``/proc`` and ``/dev``, and size-capped tmpfs mounts for
``/tmp``, ``/dev/shm`` and the work directory ``/work/job``. Resource limits are rlimits set with
``prlimit`` (address space, file size, open files, processes, CPU seconds, no core files); the
worker stops it at the wall-clock limit and caps output while streaming.

Isolation between jobs: a worker running as root gives each concurrent slot its own host uid
(``SLOT_UID_BASE + slot``), so RLIMIT_NPROC, which counts a uid's processes host-wide, is one
job's alone, and puts each slot in its own cgroup v1 ``cpu`` group with a CFS quota of
``limits.cpus``. An unprivileged worker can do neither: its jobs share its uid (one job's fork
bomb can then starve another's) and, without a cgroup it may write, only CPU seconds are bounded;
`BwrapBackend.cpu_rate_limited` and `BwrapBackend.isolation` say which applies.

Why weaker than Docker even so: it shares the host kernel *and* the host's ``/usr`` (host tools
and libraries are visible read-only); memory is an address-space rlimit, not a cgroup (a memory
bomb surfaces as ``MemoryError``, reported as ``memory_exceeded`` by matching the traceback's last
line), and tmpfs pages are host memory outside it.

The work directory is a tmpfs of the inputs plus the output-files cap that exists only inside the
sandbox, so the kernel caps it and the host never opens a path the sandbox controls. The sandbox's
pid 1 is a supervisor (`SUPERVISOR`, run with ``--as-pid-1``) that talks to the worker over a
socket: it writes the inputs, runs the program as its child, and when the program ends (or the
worker asks it to stop: timeout, cancel, output cap) kills every other process, then streams the
changed regular files back as a tar, which the worker parses in memory with the caps of
`executor.archive`. The supervisor runs as the sandbox user, so its answer is as untrusted as the
program's; as pid 1 of the namespace the program cannot kill it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import marshal
import os
import shutil
import socket
import time
import uuid
import zlib
from collections.abc import Mapping
from pathlib import Path

from executor import seccomp
from executor.archive import read_output_files
from executor.backends.base import (
    ExecutorUnavailable,
    InvalidJob,
    JobSpec,
    Limits,
    Outcome,
    OutputSink,
    RunResult,
    StreamName,
)
from executor.backends.streams import OutputCollector
from executor.backends.supervision import Ending, rank_outcome, supervise

log = logging.getLogger(__name__)

SANDBOX_UID = 65534
"""The uid (and gid) the program sees inside the sandbox."""
SLOT_UID_BASE = 420_000
"""A root worker runs slot N as host uid/gid ``SLOT_UID_BASE + N``: a range no distribution
allocates (systemd leaves 65536-524287 unused)."""
MAX_SLOTS = 1024
KILL_GRACE_S = 5.0
STOP_GRACE_S = 3.0
"""How long the supervisor gets to end the program and send the files, once asked to stop."""
READ_GRACE_S = 2.0
"""After exit, how long to wait for the tail of the output and file streams."""
PAGE = os.sysconf("SC_PAGE_SIZE")
TAR_MEMBER_OVERHEAD = 3 * 512
"""A PAX header, its ustar header and padding: what one output file costs in the stream."""
CFS_PERIOD_US = 100_000
SIGXCPU = 24
INSTALL_HINT = "apt-get install bubblewrap"
BOUND_ROOTS = ("usr", "bin", "lib", "lib64", "sbin")

SUPERVISOR = r"""
import marshal, os, resource, select, signal, sys, zlib
sock, argv = int(sys.argv[1]), sys.argv[2:]

def receive(n):
    data = bytearray()
    while len(data) < n:
        chunk = os.read(sock, min(n - len(data), 1 << 20))
        if not chunk:
            os._exit(125)
        data += chunk
    return data

def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]

max_files, budget, inputs = marshal.loads(receive(int.from_bytes(receive(8), "big")))
for path, size, _ in inputs:
    if "/" in path:
        os.makedirs(path.rpartition("/")[0], 0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    while size:
        chunk = receive(min(size, 1 << 20))
        write_all(fd, chunk)
        size -= len(chunk)
    os.close(fd)
os.set_inheritable(sock, False)
wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
signal.set_wakeup_fd(wake_w)
signal.signal(signal.SIGCHLD, lambda *_: None)
child = os.posix_spawn(argv[0], argv, os.environ)
os.write(sock, b"S")
status = None
while status is None:
    if sock in select.select([wake_r, sock], [], [])[0]:
        # the worker asks us to stop (time is up, cancelled, output cap), or is gone; read the
        # request, or closing with it unread would reset the connection and lose our answer
        os.read(sock, 64)
        break
    os.read(wake_r, 512)
    while status is None:
        try:
            pid, st = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        if pid == child:
            status = st
while True:  # end every other process; none can signal us, the namespace's pid 1
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        pid, st = os.waitpid(-1, 0)
    except ChildProcessError:
        break
    if pid == child:
        status = st
code = 137 if status is None else os.waitstatus_to_exitcode(status)
code = 128 - code if code < 0 else code
full = os.statvfs(".").f_bavail == 0
# every process of the sandbox was ours to reap (pid 1), so this is all of their usage
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu_us = int((usage.ru_utime + usage.ru_stime) * 1e6)
figures = cpu_us.to_bytes(8, "big") + usage.ru_maxrss.to_bytes(8, "big")
known = {path: (size, crc) for path, size, crc in inputs}
try:
    os.write(sock, (b"F" if full else b"-") + figures)
    tar, out, sent, total, stack = None, None, 0, 0, [""]
    while stack and sent <= max_files and total <= budget:
        top = stack.pop()
        with os.scandir(top or ".") as listing:
            entries = sorted(listing, key=lambda e: e.name, reverse=True)
        for entry in entries:
            path = top + entry.name
            if entry.is_dir(follow_symlinks=False):
                stack.append(path + "/")
                continue
            if not entry.is_file(follow_symlinks=False):
                continue
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError:
                continue
            with open(fd, "rb") as f:
                st = os.fstat(fd)
                if st.st_nlink != 1:
                    continue
                if known.get(path, (-1,))[0] == st.st_size:
                    if known[path][1] == zlib.crc32(f.read()):
                        continue
                    f.seek(0)
                if tar is None:
                    import tarfile
                    out = open(sock, "wb", buffering=1 << 16, closefd=False)
                    tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)
                info = tarfile.TarInfo(path)
                info.size, info.mode, info.mtime = st.st_size, 0o600, int(st.st_mtime)
                try:
                    tar.addfile(info, f)
                except (UnicodeError, ValueError):
                    continue
            sent, total = sent + 1, total + st.st_size
            if sent > max_files or total > budget:
                break
    if tar is not None:
        tar.close()
        out.flush()
except OSError:
    pass
os._exit(code)
"""


class CpuCgroups:
    """One cgroup v1 ``cpu`` group per slot, under the worker's own cgroup, where it may write.

    Layout: ``<cpu hierarchy>/<our cgroup>/nimbus-bwrap-<pid>-<tag>/slot-<n>``, a tag per backend
    (a process may hold two, and closing one must not remove the other's); each job's quota is
    written before it starts (``limits.cpus`` of ``CFS_PERIOD_US``). Groups left by a worker that
    died are removed at `setup`.
    """

    def __init__(self, root: Path = Path("/sys/fs/cgroup")) -> None:
        self.root = root
        self.base: Path | None = None
        self._quota: dict[int, int] = {}

    def setup(self) -> bool:
        parent = self._own_cpu_cgroup()
        if parent is None or not (parent / "cpu.cfs_quota_us").exists():
            return False
        for stale in parent.glob("nimbus-bwrap-*"):
            pid = stale.name.split("-")[2]
            if pid.isdigit() and not Path("/proc", pid).exists():
                self._remove(stale)
        base = parent / f"nimbus-bwrap-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            base.mkdir(exist_ok=True)
        except OSError:
            return False
        self.base = base
        return True

    def _own_cpu_cgroup(self) -> Path | None:
        try:
            lines = Path("/proc/self/cgroup").read_text().splitlines()
        except OSError:
            return None
        for line in lines:
            _, controllers, path = line.split(":", 2)
            if "cpu" in controllers.split(","):
                return self.root / controllers / path.lstrip("/")
        return None

    def procs_file(self, slot: int, cpus: float) -> Path:
        """The ``cgroup.procs`` of ``slot``'s group, its quota set to ``cpus``."""
        if self.base is None:
            raise RuntimeError("CpuCgroups.setup() found no writable cpu hierarchy")
        group = self.base / f"slot-{slot}"
        quota = max(1000, int(cpus * CFS_PERIOD_US))
        if self._quota.get(slot) != quota:
            group.mkdir(exist_ok=True)
            (group / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(quota))
            self._quota[slot] = quota
        return group / "cgroup.procs"

    def close(self) -> None:
        if self.base is not None:
            self._remove(self.base)
        self.base = None
        self._quota.clear()

    @staticmethod
    def _remove(group: Path) -> None:
        for slot in group.glob("slot-*"):
            with contextlib.suppress(OSError):
                slot.rmdir()
        with contextlib.suppress(OSError):
            group.rmdir()


@functools.cache
def privileged_files(roots: tuple[str, ...] = BOUND_ROOTS) -> tuple[str, ...]:
    """Every setuid or setgid file under the host directories the sandbox binds."""
    found: list[str] = []
    for name in roots:
        top = Path("/", name)
        if top.is_symlink() or not top.is_dir():
            continue
        for dirpath, _dirnames, filenames in os.walk(top):
            for filename in filenames:
                path = os.path.join(dirpath, filename)
                with contextlib.suppress(OSError):
                    if os.lstat(path).st_mode & 0o6000:
                        found.append(path)
    return tuple(sorted(found))


class BwrapBackend:
    """`SandboxBackend` on bubblewrap. See the module docstring for what it does not protect."""

    name = "bwrap"

    def __init__(
        self,
        bwrap: str | None = None,
        python: str = "/usr/bin/python3",
        cgroups: CpuCgroups | None = None,
    ) -> None:
        self.bwrap = bwrap or shutil.which("bwrap")
        self.prlimit = shutil.which("prlimit")
        self.setpriv = shutil.which("setpriv")
        self.python = python
        self.cgroups = cgroups if cgroups is not None else CpuCgroups()
        self.cpu_rate_limited = False
        """Whether each job's CPU rate is bounded (a cgroup quota), not only its CPU seconds."""
        self._prepared = False
        self._prepare_lock = asyncio.Lock()
        self._busy_slots: set[int] = set()

    @property
    def uid_per_slot(self) -> bool:
        """Root workers run every concurrent job under a host uid of its own."""
        return os.geteuid() == 0

    @property
    def isolation(self) -> str:
        """What separates jobs from each other here, for the runtime's description."""
        uids = "a uid per job slot" if self.uid_per_slot else "one shared uid (worker not root)"
        cpu = "CPU rate bounded by a cgroup" if self.cpu_rate_limited else "CPU rate NOT limited"
        return f"bubblewrap: {uids}; {cpu}; memory by rlimit, no cgroup"

    async def _prepare(self) -> None:
        async with self._prepare_lock:
            if self._prepared:
                return
            await asyncio.to_thread(privileged_files)
            if self.uid_per_slot:
                self.cpu_rate_limited = await asyncio.to_thread(self.cgroups.setup)
            if not self.cpu_rate_limited:
                log.warning("bubblewrap jobs: no writable cpu cgroup, CPU rate not limited")
            self._prepared = True

    async def check(self) -> None:
        if self.bwrap is None or not await asyncio.to_thread(os.access, self.bwrap, os.X_OK):
            raise ExecutorUnavailable(f"bubblewrap is not installed: {INSTALL_HINT}")
        if self.prlimit is None or (self.uid_per_slot and self.setpriv is None):
            raise ExecutorUnavailable("prlimit or setpriv is missing: apt-get install util-linux")
        if not await asyncio.to_thread(os.path.exists, self.python):
            raise ExecutorUnavailable(f"{self.python} is missing: apt-get install python3")
        try:
            seccomp.bpf_program()
        except seccomp.SeccompUnavailable as exc:
            raise ExecutorUnavailable(str(exc)) from exc
        await self._prepare()
        rules = _seccomp_pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._command(Limits(), 0, rules, None, work_bytes=PAGE),
                "/usr/bin/true",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(rules,),
            )
        finally:
            os.close(rules)
        async with asyncio.timeout(10):
            _, err = await proc.communicate()
        if proc.returncode != 0:
            raise ExecutorUnavailable(
                f"bubblewrap cannot create namespaces here ({err.decode(errors='replace')!r}); "
                "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)"
            )

    def _command(
        self, limits: Limits, slot: int, seccomp_fd: int, status_fd: int | None, *, work_bytes: int
    ) -> list[str]:
        """Everything before the program: rlimits, the slot's uid, bubblewrap."""
        if self.bwrap is None or self.prlimit is None:
            raise ExecutorUnavailable(f"bubblewrap or prlimit is not installed: {INSTALL_HINT}")
        args: list[str] = []
        memory = limits.memory_mb * 1024 * 1024
        cpu_s = max(1, int(limits.wall_time_s) + 1)
        args += [
            self.prlimit,
            f"--as={memory}:{memory}",
            f"--fsize={limits.max_file_bytes}:{limits.max_file_bytes}",
            f"--nofile={limits.nofile}:{limits.nofile}",
            f"--nproc={limits.pids}:{limits.pids}",
            f"--cpu={cpu_s}:{cpu_s}",
            "--core=0:0",
            "--",
        ]
        if self.uid_per_slot:
            if self.setpriv is None:
                raise ExecutorUnavailable("setpriv is missing: apt-get install util-linux")
            # as root, bwrap would map the sandbox to host uid 0 (exempt from RLIMIT_NPROC);
            # a uid of the slot's own keeps the process count per job
            host_id = str(SLOT_UID_BASE + slot)
            args += [self.setpriv, f"--reuid={host_id}", f"--regid={host_id}", "--clear-groups"]
            args += ["--"]
        shm = tmp = str(limits.tmpfs_mb * 1024 * 1024)
        args += [
            self.bwrap,
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",
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
            "--seccomp",
            str(seccomp_fd),
            *(["--json-status-fd", str(status_fd)] if status_fd is not None else []),
            "--ro-bind",
            "/usr",
            "/usr",
        ]
        for link in BOUND_ROOTS[1:]:
            if Path("/", link).is_symlink():
                args += ["--symlink", os.readlink(Path("/", link)), f"/{link}"]
            elif Path("/", link).is_dir():
                args += ["--ro-bind", f"/{link}", f"/{link}"]
        for path in privileged_files():
            args += ["--ro-bind", "/dev/null", path]  # a device on a nodev mount: not runnable
        args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--size", tmp, "--tmpfs", "/tmp"]  # noqa: S108
        args += ["--size", shm, "--tmpfs", "/dev/shm"]  # noqa: S108
        args += ["--perms", "0700", "--size", str(work_bytes), "--tmpfs", "/work/job"]
        args += ["--chdir", "/work/job", "--remount-ro", "/", "--as-pid-1", "--"]
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
        try:
            await self._prepare()
            slot = self._take_slot()
        except (OSError, RuntimeError) as exc:
            return RunResult(outcome=Outcome.ERROR, error=f"sandbox failure: {exc}")
        try:
            return await self._run_in(spec, sink, cancel, slot)
        except (OSError, seccomp.SeccompUnavailable, ExecutorUnavailable) as exc:
            return RunResult(outcome=Outcome.ERROR, error=f"sandbox failure: {exc}")
        finally:
            self._busy_slots.discard(slot)

    def _place(self, status_fd: int, slot: int, cpus: float) -> bool:
        """Move the sandbox's pid 1, as bwrap reports it, into ``slot``'s cpu group."""
        data = b""
        while b"}" not in data:
            chunk = os.read(status_fd, 4096)
            if not chunk:
                return False  # bwrap ended before it made the sandbox
            data += chunk
        try:
            pid = int(json.loads(data[: data.index(b"}") + 1])["child-pid"])
            self.cgroups.procs_file(slot, cpus).write_text(str(pid))
        except (OSError, ValueError, KeyError) as exc:
            log.error("could not move a bubblewrap job into its cpu cgroup: %s", exc)
            return False
        return True

    def _take_slot(self) -> int:
        for slot in range(MAX_SLOTS):
            if slot not in self._busy_slots:
                self._busy_slots.add(slot)
                return slot
        raise RuntimeError(f"more than {MAX_SLOTS} concurrent bubblewrap jobs")

    async def _run_in(
        self, spec: JobSpec, sink: OutputSink | None, cancel: asyncio.Event | None, slot: int
    ) -> RunResult:
        limits = spec.limits
        host_end, sandbox_end = socket.socketpair()
        rules = _seccomp_pipe()
        status_read, status_write = os.pipe() if self.cpu_rate_limited else (None, None)
        started = time.monotonic()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._command(
                    limits, slot, rules, status_write, work_bytes=work_dir_bytes(limits, spec.files)
                ),
                self.python,
                "-I",
                "-S",
                "-B",
                "-c",
                SUPERVISOR,
                str(sandbox_end.fileno()),
                self.python,
                "-u",  # unbuffered: output streams as it is printed, and survives a kill
                "-B",  # no __pycache__ next to the user's files
                spec.entrypoint,
                *spec.args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={},
                pass_fds=(
                    sandbox_end.fileno(),
                    rules,
                    *([status_write] if status_write is not None else []),
                ),
            )
        except BaseException:
            host_end.close()
            if status_read is not None:
                os.close(status_read)
            raise
        finally:
            sandbox_end.close()
            os.close(rules)
            if status_write is not None:
                os.close(status_write)
        # The sandbox's pid 1 joins the slot's cpu group while it starts (a cgroup v1 move
        # waits for an RCU grace period: ~10-20 ms here); it runs nothing of the job's before
        # it has the inputs, and those are sent once it is in.
        placed = (
            asyncio.create_task(asyncio.to_thread(self._place, status_read, slot, limits.cpus))
            if status_read is not None
            else None
        )
        control_reader, control = await asyncio.open_unix_connection(sock=host_end)
        stdin, stdout, stderr_pipe = proc.stdin, proc.stdout, proc.stderr
        if stdin is None or stdout is None or stderr_pipe is None:
            raise RuntimeError("subprocess pipes missing")
        collector = OutputCollector(limits.output_bytes, sink)

        async def feed() -> None:
            if placed is not None and not await placed:
                # not in its cpu group: it never gets the inputs, so never runs the program;
                # the closed socket ends the supervisor even if it outlived bwrap
                control.close()
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                return
            with contextlib.suppress(OSError):  # the program may exit without reading
                control.write(_inputs_message(limits, spec.files))
                await control.drain()
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

        report = _Report(_report_cap(limits))
        readers = [
            asyncio.create_task(pump(stdout, "stdout")),
            asyncio.create_task(pump(stderr_pipe, "stderr")),
        ]
        receiver = asyncio.create_task(report.receive(control_reader, control))
        writer = asyncio.create_task(feed())
        exited = asyncio.create_task(proc.wait())

        async def stop() -> None:
            if not control.is_closing():
                with contextlib.suppress(OSError):
                    control.write(b"!")  # the supervisor ends the program and sends the files

        async def kill() -> None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()  # bwrap dies, --die-with-parent takes the sandbox's pid 1 along

        try:
            run = await supervise(
                exited,
                deadline=started + limits.wall_time_s,
                cancel=cancel,
                overflow=collector.overflowed,
                stop=stop,
                kill=kill,
                stop_grace_s=STOP_GRACE_S,
                kill_grace_s=KILL_GRACE_S,
            )
            await asyncio.wait([*readers, receiver], timeout=READ_GRACE_S)
            finished = time.monotonic()
            await collector.finish()
        finally:
            helpers = (*readers, receiver, writer, exited)
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            control.close()
            if placed is not None:
                await asyncio.gather(placed, return_exceptions=True)
            if status_read is not None:
                os.close(status_read)  # only now: bwrap reports its exit on it
        status = proc.returncode if proc.returncode is not None else -9
        exit_code, signal = (128 - status, -status) if status < 0 else (status, None)
        if signal is None and status > 128:
            signal = status - 128
        stderr = collector.text("stderr")
        collected = read_output_files(
            report.tar,
            max_files=limits.max_files,
            max_file_bytes=limits.max_file_bytes,
            max_total_bytes=limits.files_total_bytes,
            unchanged=spec.files,
            cut_short=report.cut_short or report.work_full,
        )
        outcome = rank_outcome(
            Ending(
                exit_code,
                cancelled=run.cancelled,
                never_started=not report.started,
                timed_out=run.timed_out or signal == SIGXCPU,  # the CPU-seconds rlimit
                memory_exceeded=exit_code != 0 and stderr.rstrip().endswith("MemoryError"),
                work_full=report.work_full,
                output_exceeded=collector.exceeded,
            )
        )
        if outcome == Outcome.ERROR:  # a program that never ran is not to blame
            detail = stderr.strip().splitlines()[-1:] or [f"exit status {status}"]
            return RunResult(outcome=Outcome.ERROR, error=f"sandbox failure: {detail[0]}")
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
            cpu_time_ms=report.cpu_time_ms,
            peak_memory_bytes=report.peak_memory_bytes,
        )

    async def close(self) -> None:
        await asyncio.to_thread(self.cgroups.close)
        self.cpu_rate_limited = False
        self._prepared = False


class _Report:
    """What the supervisor sends back: started, whether the work directory filled, the files."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.started = False
        self.work_full = False
        self.cut_short = False
        self.cpu_time_ms: int | None = None
        """CPU time (user + system) of every process of the sandbox but its supervisor."""
        self.peak_memory_bytes: int | None = None
        """The largest resident set of any of them (``ru_maxrss``)."""
        self._chunks: list[bytes] = []

    async def receive(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._receive(reader, writer)
        except (OSError, asyncio.IncompleteReadError):  # a supervisor gone mid-answer: what
            self.cut_short = True  # came is kept, flagged as cut

    async def _receive(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.started = await reader.read(1) == b"S"
        if not self.started:
            return
        self.work_full = await reader.read(1) == b"F"
        usage = await reader.readexactly(16)
        self.cpu_time_ms = round(int.from_bytes(usage[:8], "big") / 1000)
        self.peak_memory_bytes = int.from_bytes(usage[8:], "big") * 1024  # ru_maxrss: KiB
        size = 0
        while chunk := await reader.read(64 * 1024):
            if size + len(chunk) > self.cap:
                self._chunks.append(chunk[: self.cap - size])
                self.cut_short = True
                writer.close()  # the supervisor's next write fails: it stops and exits
                return
            self._chunks.append(chunk)
            size += len(chunk)

    @property
    def tar(self) -> bytes:
        return b"".join(self._chunks)


def _seccomp_pipe() -> int:
    """A pipe's read end holding the compiled filter, for ``bwrap --seccomp FD``."""
    program = seccomp.bpf_program()
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, program)  # ~2 KB: far below the pipe's buffer
    finally:
        os.close(write_end)
    return read_end


def work_dir_bytes(limits: Limits, files: Mapping[str, bytes]) -> int:
    """The work directory's tmpfs size: the inputs (in whole pages) plus the output-files cap."""
    pages = sum(-(-len(content) // PAGE) for content in files.values())
    return limits.files_total_bytes + (pages + len(files) + 16) * PAGE


def _report_cap(limits: Limits) -> int:
    """The most the worker reads back: every file the caps allow, their headers, and one more."""
    members = limits.max_files + 1
    return limits.files_total_bytes + limits.max_file_bytes + members * TAR_MEMBER_OVERHEAD + 1024


def _inputs_message(limits: Limits, files: Mapping[str, bytes]) -> bytes:
    """The supervisor's first message: caps and the file list (marshal, host-made), then data."""
    listing = [(path, len(data), zlib.crc32(data)) for path, data in files.items()]
    header = marshal.dumps((limits.max_files, limits.files_total_bytes, listing))
    return b"".join([len(header).to_bytes(8, "big"), header, *files.values()])
