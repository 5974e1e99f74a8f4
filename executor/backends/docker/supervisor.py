"""The supervisor every Docker sandbox runs (``BOOTSTRAP``), the frame it reads and the work
directory's sizing.

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
directory is sized for inputs up to `POOL_INPUT_BYTES`), sets the mtimes
to 0 (the host's cheap "did the program write anything?" probe relies on it), then forks: the
child lowers RLIMIT_FSIZE/RLIMIT_NOFILE to the job's limits, takes its own process group, and
runs the program in its own, already started interpreter exactly as ``python3 -u -B
<entrypoint> <args>`` would (``-u``: output reaches the stream as it is printed, so nothing is
lost to a kill): same ``sys.argv``, ``sys.path[0]``, ``sys.flags``, a fresh ``__main__`` module,
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
"""

from __future__ import annotations

import marshal
import os
from collections.abc import Mapping

from executor.backends.base import JobSpec, Limits

HEADER_DIGITS = 16
MARSHAL_VERSION = 4
PAGE = os.sysconf("SC_PAGE_SIZE")
POOL_INPUT_BYTES = 1024 * 1024
"""Room a warm container's work directory keeps for the inputs of the job it will get; a job
with larger inputs gets a one-shot container sized for them. The supervisor trims the unused
part (see `work_free_bytes`), so the job's cap is the same either way."""
END_PREFIX = b"\x00nimbus-end "
"""Begins the supervisor's end-of-run line: prefix, nonce, space, four numbers, newline."""


def pages(size: int) -> int:
    return -(-size // PAGE) * PAGE


def work_free_bytes(limits: Limits) -> int:
    """The room a program gets in its work directory beside its inputs: the output-files cap
    and a page for each file it may return (and one more), since the file system counts whole
    pages. Whatever the job may bring back fits; a program that fills it has written more."""
    return pages(limits.files_total_bytes) + (limits.max_files + 1) * PAGE


def inputs_bytes(files: Mapping[str, bytes]) -> int:
    """What the job's input files take of its work directory."""
    return sum(pages(len(content)) for content in files.values())


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
    sys.orig_argv = [sys.executable, "-u", "-B", entrypoint, *args]
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
