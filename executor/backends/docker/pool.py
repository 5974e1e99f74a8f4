"""Warm pool of pre-started, single-use sandbox containers, and the supervisor every sandbox runs.

Every sandbox container (pooled or one-shot) runs ``BOOTSTRAP``, a small supervisor that blocks
reading stdin. A pooled one is created exactly like a one-shot sandbox (same hardening, its own
tmpfs work directory ``/work/job`` owned by 65534), attached and started ahead of time, so a job
then costs one write and the program's own run time:

    stdin = 16 ASCII digits N | N bytes of header | file contents back to back | user stdin

The header is ``{"entrypoint", "args", "files": [[path, size], ...], "rlimits", "nonce",
"free"}`` in `marshal` format (version 4, which every Python 3 since 3.4 reads): marshal is
built into the interpreter, while importing json (and with it re) cost the bootstrap ~6 ms of CPU
per job, as much as starting its interpreter.
The bootstrap reads exactly the header and the file bytes with raw ``os.read`` (no buffering, so
nothing of the user's stdin is consumed), creates the files under ``/work/job`` (``O_EXCL |
O_NOFOLLOW``, parents 0700), leaves exactly ``free`` bytes of the work directory free (an unnamed
``O_TMPFILE`` it holds takes the rest: a warm container cannot know its job's inputs, so its work
directory is sized for inputs up to `executor.backends.docker.POOL_INPUT_BYTES`), sets the mtimes
to 0 (the host's cheap "did the program write anything?" probe relies on it), then forks: the
child lowers RLIMIT_FSIZE/RLIMIT_NOFILE to the job's limits, takes its own process group, and
runs the program in its own, already started interpreter exactly as ``python3 -B <entrypoint>
<args>`` would: same ``sys.argv``, ``sys.path[0]``, ``sys.flags``, a fresh ``__main__`` module,
tracebacks without the bootstrap's frame, exit status 1 for an uncaught exception, death by
SIGINT for an uncaught KeyboardInterrupt (a test compares it with a plain ``python3``). The only
trace left: two bootstrap frames under the program's own in ``inspect.stack()`` (the recursion
limit comes two calls sooner), and a parent process. The bootstrap imports what it needs before
any job file exists and with ``''`` off ``sys.path``, then drops those modules from
``sys.modules``, so a job's own ``resource.py`` can neither replace the bootstrap's nor be
shadowed by it. ``execv`` of a second interpreter cost ~10 ms of CPU and of latency per job; a
fork costs ~1 ms. The program inherits fds 0/1/2 directly, so the rest of the attach stream is its
stdin and its output goes straight to the attach stream. The host half-closes stdin after the
user's bytes, so the program sees EOF exactly as in a one-shot run.

The parent stays as the supervisor: when the program exits, or on SIGUSR1 (the host's "stop":
timeout, cancel, output flood), it SIGKILLs every other process of the sandbox (as the end of
a container would) until none is left, then writes ``\\0nimbus-end <nonce> <status> <oom>
<full>\\n`` to stdout and to stderr — nothing else can write after it, so it ends both streams
— and waits to be killed. The container, and with it the tmpfs holding the job's files, lives
until the host has read them.

The bootstrap runs inside the sandbox as the same uid as the user code; it is not trusted and
needs no trust — everything the host reads back is parsed as hostile. The program can kill or
fool its supervisor (a forged report, the reserve file through ``/proc``): that misreports only
its own run, and gains it at most the pool's input allowance of work directory.

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
import marshal
import time
from typing import TYPE_CHECKING

from executor.backends.base import JobSpec, Limits

if TYPE_CHECKING:
    from executor.backends.docker import DockerBackend, Sandbox

log = logging.getLogger(__name__)

HEADER_DIGITS = 16
MAX_FILLERS = 3
"""Containers created concurrently while refilling (never more than the pool's size). With jobs
waiting for the pool (`take`), a pool of 8 at concurrency 8 on 2 vCPUs had its best throughput
with 3-4; beyond that dockerd only contends."""
TAKE_WAIT_S = 5.0
"""How long a job waits for a container being started before it gets a one-shot one."""
RETRY_DELAY_S = 2.0
MARSHAL_VERSION = 4
MAX_IDLE_S = 300.0
"""A warm container older than this is replaced (see the module docstring)."""

BOOTSTRAP = """\
import sys
startup = set(sys.modules)
if sys.path[0] == "":  # /work/job: none of the job's files may stand in for what we import
    del sys.path[0]
import atexit, builtins, marshal, os, resource, signal, time, types
from importlib.machinery import SourceFileLoader
for name in set(sys.modules) - startup:
    del sys.modules[name]  # the program imports its own, as in a fresh interpreter
class Stop(Exception):
    pass
def stop(signum, frame):
    raise Stop
signal.signal(signal.SIGUSR1, stop)
def oom_kills():
    for path in ("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events"):
        try:
            with open(path, "rb") as file:
                for line in file.read().splitlines():
                    if line.startswith(b"oom_kill "):
                        return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return 0
oom_before = oom_kills()
def take(n):
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(0, min(n - len(buf), 1 << 20))
        if not chunk:
            raise SystemExit(125)
        buf += chunk
    return bytes(buf)
def others_alive(me):
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (1, me):
            try:
                with open("/proc/" + entry + "/stat", "rb") as file:
                    state = file.read().rpartition(b")")[2].split()[0]
            except (OSError, IndexError):
                continue
            if state not in (b"Z", b"X"):
                return True
    return False
def end_all():  # as the container's end would: nothing the program started outlives it
    me = os.getpid()
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if not others_alive(me):
            return
        time.sleep(0.001)
def supervise(pid):
    if end is None:  # stopped before the job arrived: there is nothing to report
        os._exit(128 + signal.SIGKILL)
    status = None
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    except Stop:
        pass
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    end_all()
    if status is None and pid:
        try:
            status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        except ChildProcessError:
            pass
    if status is None:
        status = -signal.SIGKILL
    if status < 0:
        status = 128 - status
    fs = os.statvfs(".")
    full = fs.f_bavail == 0 or fs.f_favail == 0
    line = b"%s%d %d %d\\n" % (end, status, oom_kills() > oom_before, full)
    for fd in (1, 2):
        try:
            os.write(fd, line)
        except OSError:
            pass
    for fd in (0, 1, 2):
        os.close(fd)
    while True:
        signal.pause()  # until the host, having read the work directory, kills us
pid, end = 0, None
try:
    job = marshal.loads(take(int(take(16))))
    end = b"\\x00nimbus-end " + job["nonce"].encode() + b" "
    for path, size in job["files"]:
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, 0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        data = memoryview(take(size))
        while data:
            data = data[os.write(fd, data):]
        os.close(fd)
        os.utime(path, (0, 0))
    # the work directory keeps exactly job["free"] bytes free: unnamed files hold the rest
    fs = os.statvfs(".")
    spare = fs.f_bavail * fs.f_frsize - job["free"]
    most = resource.getrlimit(resource.RLIMIT_FSIZE)[0]  # each file is capped (the ulimit)
    most = spare if most == resource.RLIM_INFINITY else most - most % fs.f_frsize
    reserve = []
    while spare > 0 and most > 0:
        reserve.append(os.open(".", os.O_TMPFILE | os.O_RDWR, 0o600))
        os.posix_fallocate(reserve[-1], 0, min(spare, most))
        spare -= most
    for path, size in sorted(job["files"], key=lambda f: -f[0].count("/")):
        parent = os.path.dirname(path)
        while parent:
            os.utime(parent, (0, 0))
            parent = os.path.dirname(parent)
    os.utime(".", (0, 0))
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})  # until pid is known
    pid = os.fork()
except Stop:
    supervise(0)
if pid:
    supervise(pid)
signal.signal(signal.SIGUSR1, signal.SIG_DFL)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
os.setpgid(0, 0)  # the program's process group is its own, as under the container's init
for fd in reserve:
    os.close(fd)
for name, value in job["rlimits"].items():
    resource.setrlimit(getattr(resource, name), (value, value))
def run(entrypoint, args):
    path = os.path.abspath(entrypoint)
    sys.argv = [entrypoint, *args]
    sys.orig_argv = [sys.executable, "-B", entrypoint, *args]
    sys.path.insert(0, os.path.dirname(path))
    with open(path, "rb") as file:  # the job spec guarantees it is among the files
        source = file.read()
    main = types.ModuleType("__main__")
    main.__annotations__, main.__builtins__ = {}, builtins
    main.__loader__ = SourceFileLoader("__main__", path)
    main.__file__, main.__cached__ = path, None
    sys.modules["__main__"] = main
    try:
        exec(compile(source, path, "exec", dont_inherit=True), vars(main))
    except SystemExit:
        raise
    except BaseException as exc:
        exc.__traceback__ = exc.__traceback__.tb_next  # hide this frame
        sys.excepthook(type(exc), exc, exc.__traceback__)
        if not isinstance(exc, KeyboardInterrupt):
            raise SystemExit(1)
        # CPython's way out: threads joined, atexit, streams flushed, then death by SIGINT
        threading = sys.modules.get("threading")
        if threading is not None:
            threading._shutdown()
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
entrypoint, args = job["entrypoint"], job["args"]
del job
run(entrypoint, args)
"""


def job_frame(spec: JobSpec, nonce: str) -> bytes:
    """The bytes the supervisor expects before the user's stdin (see the module docstring)."""
    from executor.backends.docker import work_free_bytes

    paths = sorted(spec.files)
    header = marshal.dumps(
        {
            "entrypoint": spec.entrypoint,
            "args": list(spec.args),
            "files": [[path, len(spec.files[path])] for path in paths],
            "rlimits": {
                "RLIMIT_FSIZE": spec.limits.max_file_bytes,
                "RLIMIT_NOFILE": spec.limits.nofile,
            },
            "nonce": nonce,
            "free": work_free_bytes(spec.limits),
        },
        MARSHAL_VERSION,
    )
    return b"%016d" % len(header) + header + b"".join(spec.files[p] for p in paths)


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
    from executor.backends.docker import POOL_INPUT_BYTES, inputs_bytes, work_free_bytes

    return (
        spec.limits.max_files <= pool.max_files
        and work_free_bytes(spec.limits) + inputs_bytes(spec.files)
        <= work_free_bytes(pool) + POOL_INPUT_BYTES
    )


class WarmPool:
    """Keeps ``size`` started containers ready; `take` hands each out exactly once."""

    def __init__(
        self, backend: DockerBackend, size: int, limits: Limits, max_idle_s: float = MAX_IDLE_S
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
        from executor.backends.docker import POOL_INPUT_BYTES, Sandbox, work_free_bytes

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
