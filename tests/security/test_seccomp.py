"""Issue 18, finding 4: Nimbus's own seccomp profile, the same on every backend.

Each refused system call is made by a script in the sandbox through ctypes ``syscall(nr, ...)``
and must fail with EPERM (or ENOSYS, which clone3 answers so that glibc falls back to clone).
The arguments are chosen so that, where the kernel allows it without a filter, the call would
succeed or fail with another errno: a pass means the filter refused it, not the call's own checks.
Calls that could succeed are harmless if they do (queries, a keyring of one's own, a child that
exits at once). Normal Python (threads, subprocess, multiprocessing, sqlite3, asyncio, tempfile)
must keep working under the filter.
"""

from __future__ import annotations

import errno
import json

import pyseccomp  # type: ignore[import-untyped]
import pytest

from executor import seccomp
from executor.backends import Outcome, SandboxBackend
from tests.executor.helpers import run_job

pytestmark = pytest.mark.slow

CLONE_NEWUSER = 0x10000000
SIGCHLD = 17

# (test id, system call, arguments as Python source in the sandbox, whether it may fork)
REFUSED: list[tuple[str, str, str, bool]] = [
    ("io_uring_setup", "io_uring_setup", "1, buf(120)", False),
    ("io_uring_enter", "io_uring_enter", "-1, 0, 0, 0, None, 0", False),
    ("io_uring_register", "io_uring_register", "-1, 0, None, 0", False),
    ("userfaultfd", "userfaultfd", "1", False),  # UFFD_USER_MODE_ONLY: allowed unprivileged
    ("keyctl", "keyctl", "0, -4, 1", False),  # the user keyring's id, creating it
    ("add_key", "add_key", "b'user', b'nimbus-probe', b'x', 1, -2", False),
    ("request_key", "request_key", "b'user', b'nimbus-probe', None, 0", False),
    ("bpf", "bpf", "0, buf(128), 128", False),
    ("perf_event_open", "perf_event_open", "buf(128), 0, -1, -1, 0", False),
    ("unshare-newuser", "unshare", f"{CLONE_NEWUSER}", False),
    ("unshare-files", "unshare", "0x400", False),  # CLONE_FILES: unshare is refused whole
    ("clone-newuser", "clone", f"{CLONE_NEWUSER | SIGCHLD}, 0, 0, 0, 0", True),
    ("clone-newnet", "clone", f"{0x40000000 | SIGCHLD}, 0, 0, 0, 0", True),
    ("clone3-newuser", "clone3", f"clone_args({CLONE_NEWUSER}), 64", True),
    ("clone3-plain", "clone3", "clone_args(0), 64", True),
    ("setns", "setns", "nsfd('user'), 0", False),  # EINVAL without a filter
    ("mount", "mount", "b'none', b'/tmp', b'tmpfs', 0, None", False),
    ("umount2", "umount2", "b'/tmp', 0", False),
    ("fsopen", "fsopen", "b'tmpfs', 0", False),
    ("fsconfig", "fsconfig", "-1, 0, None, None, 0", False),
    ("fsmount", "fsmount", "-1, 0, 0", False),
    ("fspick", "fspick", "-100, b'/tmp', 0", False),
    ("open_tree", "open_tree", "-100, b'/tmp', 0", False),  # an O_PATH fd without a filter
    ("move_mount", "move_mount", "-1, b'', -1, b'', 0", False),
    ("mount_setattr", "mount_setattr", "-100, b'/tmp', 0, None, 0", False),
    ("pivot_root", "pivot_root", "b'.', b'.'", False),
    ("chroot", "chroot", "b'/'", False),
    ("ptrace", "ptrace", "0, 0, 0, 0", False),  # PTRACE_TRACEME
    ("personality", "personality", "0x0040000", False),  # ADDR_NO_RANDOMIZE
    ("process_vm_readv", "process_vm_readv", "pid, None, 0, None, 0, 0", False),
    ("process_vm_writev", "process_vm_writev", "pid, None, 0, None, 0, 0", False),
    ("kexec_load", "kexec_load", "0, 0, None, 0", False),
    ("kexec_file_load", "kexec_file_load", "-1, -1, 0, None, 0", False),
    ("init_module", "init_module", "None, 0, b''", False),
    ("finit_module", "finit_module", "-1, b'', 0", False),
    ("delete_module", "delete_module", "b'nimbus-probe', 0", False),
    ("reboot", "reboot", "0, 0, 0, None", False),  # a wrong magic: EINVAL at worst
    ("swapon", "swapon", "b'/nonexistent', 0", False),
    ("swapoff", "swapoff", "b'/nonexistent'", False),
    ("acct", "acct", "None", False),
    ("quotactl", "quotactl", "0, None, 0, None", False),
    ("syslog", "syslog", "10, None, 0", False),
    ("iopl", "iopl", "3", False),
    ("ioperm", "ioperm", "0, 1, 1", False),
    ("settimeofday", "settimeofday", "None, None", False),  # a no-op without a filter
    ("clock_settime", "clock_settime", "-1, buf(16)", False),
    ("clock_adjtime", "clock_adjtime", "0, buf(208)", False),  # modes 0: a query
    ("adjtimex", "adjtimex", "buf(208)", False),
    ("sethostname", "sethostname", "b'x', 1", False),
    ("setdomainname", "setdomainname", "b'x', 1", False),
    ("vhangup", "vhangup", "", False),
    ("open_by_handle_at", "open_by_handle_at", "-100, buf(16), 0", False),
    ("name_to_handle_at", "name_to_handle_at", "-100, b'/tmp', buf(16), buf(8), 0", False),
    ("fanotify_init", "fanotify_init", "0x200, 0", False),  # FAN_REPORT_FID: unprivileged
    ("fanotify_mark", "fanotify_mark", "-1, 1, 0, -100, b'/tmp'", False),
    ("kcmp", "kcmp", "pid, pid, 1, 0, 0", False),
    ("pidfd_getfd", "pidfd_getfd", "-1, 0, 0", False),
    ("process_madvise", "process_madvise", "-1, None, 0, 0, 0", False),
    ("modify_ldt", "modify_ldt", "0, buf(16), 16", False),
    ("set_thread_area", "set_thread_area", "buf(16)", False),
    ("io_setup", "io_setup", "1, buf(8)", False),
    ("vmsplice", "vmsplice", "-1, None, 0, 0", False),
    ("tee", "tee", "-1, -1, 0, 0", False),
    ("mq_open", "mq_open", "b'nimbus-probe', 0, 0, None", False),
    ("seccomp", "seccomp", "2, 0, buf(4)", False),  # SECCOMP_GET_ACTION_AVAIL
    ("landlock_create_ruleset", "landlock_create_ruleset", "None, 0, 1", False),
    ("get_mempolicy", "get_mempolicy", "None, None, 0, None, 0", False),
    ("set_mempolicy", "set_mempolicy", "0, None, 0", False),
    ("mbind", "mbind", "0, 0, 0, None, 0, 0", False),
    ("memfd_secret", "memfd_secret", "0", False),
    ("remap_file_pages", "remap_file_pages", "0, 0, 0, 0, 0", False),
    ("socket-af_alg", "socket", "38, 5, 0", False),  # the kernel crypto API
    ("socket-af_vsock", "socket", "40, 1, 0", False),
    ("socket-af_packet", "socket", "17, 3, 0", False),
    ("socket-af_key", "socket", "15, 3, 2", False),
]
NATIVE = pyseccomp.system_arch()
PROBES = [
    pytest.param(call, nr, args, forks, id=name)
    for name, call, args, forks in REFUSED
    # a call this architecture does not have (iopl on arm64, say) cannot be made at all
    if (nr := pyseccomp.resolve_syscall(NATIVE, call)) >= 0
]

PROBE = """
import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
pid = os.getpid()
def buf(n):
    return ctypes.create_string_buffer(n)
def nsfd(kind):
    return os.open(f"/proc/self/ns/{kind}", os.O_RDONLY)
def clone_args(flags):
    args = (ctypes.c_uint64 * 8)()
    args[0], args[4] = flags, 17  # flags, exit_signal = SIGCHLD
    return args
args = [ctypes.c_long(a) if isinstance(a, int) else a for a in [%(args)s]]
ctypes.set_errno(0)
result = libc.syscall(ctypes.c_long(%(nr)d), *args)
error = ctypes.get_errno()
if %(forks)s and result == 0:
    os._exit(0)  # the child of a clone that was let through
if %(forks)s and result > 0:
    os.waitpid(result, 0)
print(json.dumps([result, error]))
"""


@pytest.mark.parametrize(("call", "nr", "args", "forks"), PROBES)
async def test_system_call_is_refused(
    backend: SandboxBackend, call: str, nr: int, args: str, forks: bool
) -> None:
    source = PROBE % {"nr": nr, "args": args, "forks": forks}
    result = await run_job(backend, source)
    assert result.outcome is Outcome.SUCCEEDED, result.stderr
    value, error = json.loads(result.stdout)
    assert value == -1, f"{call} returned {value}: it was let through"
    assert error in (errno.EPERM, errno.ENOSYS), f"{call}: {errno.errorcode.get(error, error)}"


async def test_clone3_answers_enosys_so_glibc_falls_back(backend: SandboxBackend) -> None:
    source = PROBE % {
        "nr": pyseccomp.resolve_syscall(NATIVE, "clone3"),
        "args": "clone_args(0), 64",
        "forks": True,
    }
    result = await run_job(backend, source)
    assert json.loads(result.stdout) == [-1, errno.ENOSYS]


async def test_the_filter_is_installed(backend: SandboxBackend) -> None:
    source = (
        "lines = open('/proc/self/status').read().splitlines()\n"
        "status = dict(line.split(':\\t', 1) for line in lines)\n"
        "print(status['Seccomp'].strip(), status.get('Seccomp_filters', '1').strip())\n"
    )
    result = await run_job(backend, source)
    mode, filters = result.stdout.split()
    assert mode == "2"  # SECCOMP_MODE_FILTER
    assert int(filters) >= 1


async def test_personality_query_and_default_are_allowed(backend: SandboxBackend) -> None:
    nr = pyseccomp.resolve_syscall(NATIVE, "personality")
    query = await run_job(backend, PROBE % {"nr": nr, "args": "0xffffffff", "forks": False})
    linux = await run_job(backend, PROBE % {"nr": nr, "args": "0", "forks": False})
    assert json.loads(query.stdout)[0] >= 0
    assert json.loads(linux.stdout)[0] >= 0


# -- what a Python script needs still works -----------------------------------------------------


async def test_threads_work(backend: SandboxBackend) -> None:
    source = (
        "import threading\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "with ThreadPoolExecutor(4) as pool:\n"
        "    print(sum(pool.map(lambda n: n * n, range(100))))\n"
        "t = threading.Thread(target=print, args=('thread',))\n"
        "t.start(); t.join()\n"
    )
    result = await run_job(backend, source)
    assert result.stdout == "328350\nthread\n", result.stderr


async def test_subprocess_works(backend: SandboxBackend) -> None:
    source = (
        "import subprocess, sys\n"
        "print(subprocess.run([sys.executable, '-c', 'print(6 * 7)'], capture_output=True,"
        " text=True, check=True).stdout.strip())\n"
        "print(subprocess.run('echo shell', shell=True, capture_output=True, text=True,"
        " check=True).stdout.strip())\n"
    )
    result = await run_job(backend, source)
    assert result.stdout == "42\nshell\n", result.stderr


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
async def test_multiprocessing_works(backend: SandboxBackend, method: str) -> None:
    source = (
        "import multiprocessing as mp\n"
        "def square(n):\n"
        "    return n * n\n"
        "if __name__ == '__main__':\n"
        f"    with mp.get_context({method!r}).Pool(2) as pool:\n"
        "        print(sum(pool.map(square, range(10))))\n"
        f"    queue, lock = mp.get_context({method!r}).Queue(), mp.Lock()\n"
        "    with lock:\n"
        "        queue.put('queued')\n"
        "    print(queue.get(timeout=5))\n"
    )
    result = await run_job(backend, source, wall_time_s=20.0)
    assert result.stdout == "285\nqueued\n", result.stderr


async def test_sqlite3_works(backend: SandboxBackend) -> None:
    source = (
        "import sqlite3\n"
        "for target in (':memory:', 'data.db'):\n"
        "    db = sqlite3.connect(target)\n"
        "    db.execute('create table t (x)')\n"
        "    db.executemany('insert into t values (?)', [(i,) for i in range(10)])\n"
        "    db.commit()\n"
        "    print(db.execute('select sum(x) from t').fetchone()[0])\n"
    )
    result = await run_job(backend, source)
    assert result.stdout == "45\n45\n", result.stderr
    assert [f.path for f in result.files] == ["data.db"]


async def test_asyncio_works(backend: SandboxBackend) -> None:
    source = (
        "import asyncio, sys\n"
        "async def main():\n"
        "    proc = await asyncio.create_subprocess_exec(sys.executable, '-c', 'print(1)',"
        " stdout=asyncio.subprocess.PIPE)\n"
        "    out, _ = await proc.communicate()\n"
        "    results = await asyncio.gather(*(asyncio.sleep(0.01, i) for i in range(5)))\n"
        "    loop = asyncio.get_running_loop()\n"
        "    threaded = await loop.run_in_executor(None, sum, results)\n"
        "    print(out.decode().strip(), threaded)\n"
        "asyncio.run(main())\n"
    )
    result = await run_job(backend, source)
    assert result.stdout == "1 10\n", result.stderr


async def test_tempfile_and_file_io_work(backend: SandboxBackend) -> None:
    source = (
        "import os, shutil, tempfile, mmap\n"
        "with tempfile.TemporaryDirectory() as d:\n"
        "    path = os.path.join(d, 'x')\n"
        "    with open(path, 'wb') as f:\n"
        "        f.write(b'abc' * 1000)\n"
        "    shutil.copy(path, path + '.copy')\n"
        "    with open(path + '.copy', 'r+b') as f, mmap.mmap(f.fileno(), 0) as m:\n"
        "        print(len(m), m[:3].decode())\n"
        "with tempfile.NamedTemporaryFile() as f:\n"
        "    f.write(b'ok'); f.flush(); print(open(f.name).read())\n"
        "os.mkfifo('/tmp/fifo'); print(os.path.exists('/tmp/fifo'))\n"
    )
    result = await run_job(backend, source)
    assert result.stdout == "3000 abc\nok\nTrue\n", result.stderr


# -- one rule set ------------------------------------------------------------------------------


def test_docker_gets_the_profile_file_verbatim() -> None:
    option = seccomp.docker_security_opt()
    assert option.startswith("seccomp=")
    assert json.loads(option.removeprefix("seccomp=")) == json.loads(
        seccomp.PROFILE_PATH.read_text()
    )


def test_every_profile_name_is_known_to_libseccomp() -> None:
    """A misspelt name would silently fall to the default action on both backends."""
    assert seccomp.unknown_names() == []


def test_bpf_program_is_a_list_of_filter_instructions() -> None:
    program = seccomp.bpf_program()
    assert program and len(program) % 8 == 0  # struct sock_filter is 8 bytes


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"defaultAction": "SCMP_ACT_ALLOW"}, "default action"),
        ({"architectures": ["SCMP_ARCH_S390X"]}, "architecture"),
        ({"syscalls": [{"names": ["read"], "action": "SCMP_ACT_LOG"}]}, "not supported"),
        (
            {
                "syscalls": [
                    {
                        "names": ["socket"],
                        "action": "SCMP_ACT_ALLOW",
                        "args": [
                            {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                            {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"},
                        ],
                    }
                ]
            },
            "compared twice",
        ),
    ],
)
def test_a_profile_the_backends_would_read_differently_is_refused(
    monkeypatch: pytest.MonkeyPatch, change: dict[str, object], message: str
) -> None:
    """Docker and libseccomp must mean the same by every rule, or the compile fails."""
    changed = {**seccomp.profile(), **change}
    monkeypatch.setattr(seccomp, "profile", lambda: changed)
    with pytest.raises(seccomp.SeccompUnavailable, match=message):
        seccomp.bpf_program.__wrapped__()
