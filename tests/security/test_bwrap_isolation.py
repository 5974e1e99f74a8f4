"""Issue 18, finding 18 (and the bubblewrap half of 4): bubblewrap jobs are isolated from the host's
resources and from each other: a private, capped ``/dev/shm``, ``/tmp`` and work directory, no
user namespaces, no setuid binaries, a uid of its own per concurrent job, and a CPU rate bound
where the worker may write a cgroup.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from api.config import Settings
from api.jobs.runtime import JobRuntime
from executor.backends import BwrapBackend, ExecutorUnavailable, Outcome
from executor.backends.bwrap import CFS_PERIOD_US, SLOT_UID_BASE, CpuCgroups
from tests.executor.helpers import run_job

pytestmark = pytest.mark.slow
MIB = 1024 * 1024
NO_CPU_CGROUP = (
    "no cpu cgroup this test may write, so the CPU rate of bubblewrap jobs is not limited here: "
    "run the tests as root on a host with the cgroup v1 cpu controller at /sys/fs/cgroup/cpu"
)

FILL = """
import errno, os, sys
path = sys.argv[1]
written = 0
try:
    with open(path, 'wb') as f:
        for _ in range(int(sys.argv[2])):
            f.write(b'x' * 1024 * 1024)
            f.flush()
            written += 1
    print('wrote', written)
except OSError as exc:
    print('refused', written, errno.errorcode[exc.errno])
"""


@pytest.mark.parametrize("path", ["/dev/shm/fill", "/tmp/fill"])
async def test_shared_memory_and_tmp_are_private_and_capped(
    bwrap_backend: BwrapBackend, path: str
) -> None:
    result = await run_job(bwrap_backend, FILL, args=[path, "32"], tmpfs_mb=8)
    assert result.stdout.split()[0] == "refused", result.stdout
    assert int(result.stdout.split()[1]) <= 8
    assert result.stdout.split()[2] == "ENOSPC"


async def test_work_directory_is_capped_by_the_kernel(bwrap_backend: BwrapBackend) -> None:
    result = await run_job(
        bwrap_backend, FILL, args=["big.bin", "16"], files_total_bytes=2 * MIB, max_files=10
    )
    words = result.stdout.split()
    assert words[0] == "refused" and words[2] == "ENOSPC", result.stdout
    assert int(words[1]) <= 3
    assert result.outcome is Outcome.OUTPUT_EXCEEDED
    assert result.files_truncated
    assert all(f.size <= 2 * MIB for f in result.files)


async def test_work_directory_files_come_back_after_a_timeout(
    bwrap_backend: BwrapBackend,
) -> None:
    source = "import time\nopen('partial.txt', 'w').write('so far')\ntime.sleep(60)\n"
    result = await run_job(bwrap_backend, source, wall_time_s=1.0)
    assert result.outcome is Outcome.TIMED_OUT
    assert [(f.path, f.content) for f in result.files] == [("partial.txt", b"so far")]


async def test_user_namespaces_cannot_be_created(bwrap_backend: BwrapBackend) -> None:
    source = (
        "import ctypes, subprocess\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.unshare(0x10000000 | 0x40000000), ctypes.get_errno())\n"  # NEWUSER|NEWNET
        "proc = subprocess.run(['unshare', '--user', '--map-root-user', '--net', 'id', '-u'],"
        " capture_output=True, text=True)\n"
        "print(proc.returncode, proc.stdout.strip())\n"
    )
    result = await run_job(bwrap_backend, source)
    unshared, helper = result.stdout.splitlines()
    assert unshared.split()[0] == "-1"
    assert helper.split()[0] != "0"  # util-linux's unshare could not become root anywhere


async def test_no_setuid_or_setgid_file_is_visible(bwrap_backend: BwrapBackend) -> None:
    source = (
        "import os, stat\n"
        "found = []\n"
        "for top in ('/usr', '/bin', '/sbin', '/lib', '/lib64', '/etc', '/dev', '/tmp', '/work'):\n"
        "    for dirpath, dirs, files in os.walk(top):\n"
        "        for name in files:\n"
        "            try:\n"
        "                mode = os.lstat(os.path.join(dirpath, name)).st_mode\n"
        "            except OSError:\n"
        "                continue\n"
        "            if stat.S_ISREG(mode) and mode & 0o6000:\n"
        "                found.append(os.path.join(dirpath, name))\n"
        "print(found)\n"
        "mounts = [l.split() for l in open('/proc/self/mountinfo')]\n"
        "print(all('nosuid' in m[5] for m in mounts))\n"
    )
    result = await run_job(bwrap_backend, source, wall_time_s=30.0)
    found, nosuid = result.stdout.splitlines()
    assert found == "[]"
    assert nosuid == "True"


async def test_concurrent_jobs_run_as_different_host_uids(bwrap_backend: BwrapBackend) -> None:
    if os.geteuid() != 0:
        pytest.fail("this test runs as root (as CI does): only root can hand out uids")
    source = "import os, sys, time\nprint(os.getuid())\ntime.sleep(3)\n"
    markers = [f"nimbus-uid-probe-{n}-{os.getpid()}" for n in range(2)]
    jobs = [asyncio.create_task(run_job(bwrap_backend, source, args=[m])) for m in markers]
    host_uids: dict[str, int] = {}
    for _ in range(50):
        host_uids = await asyncio.to_thread(_real_uids_by_marker, markers)
        if len(host_uids) == 2:
            break
        await asyncio.sleep(0.05)
    results = await asyncio.gather(*jobs)
    assert [r.stdout for r in results] == ["65534\n", "65534\n"]  # the same inside
    assert len(set(host_uids.values())) == 2, host_uids  # different on the host
    assert all(uid >= SLOT_UID_BASE for uid in host_uids.values())


def _real_uids_by_marker(markers: list[str]) -> dict[str, int]:
    """The host's view: the real uid of each process whose command line holds a marker."""
    found: dict[str, int] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{pid}/status") as f:
                uid_line = next(line for line in f if line.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        for marker in markers:
            if marker.encode() in argv and b"-B" in argv and b"-c" not in argv:
                found[marker] = int(uid_line.split()[1])
    return found


async def test_one_jobs_fork_bomb_does_not_fail_anothers(bwrap_backend: BwrapBackend) -> None:
    bomb = (
        "import os, time\n"
        "for _ in range(1000):\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(30)\n"
        "            os._exit(0)\n"
        "    except OSError:\n"
        "        break\n"
        "os.write(1, b'holding\\n')\n"  # one write: print makes two (text, end) unbuffered
        "time.sleep(30)\n"
    )
    chunks: list[tuple[str, str]] = []
    bombing = asyncio.create_task(
        run_job(bwrap_backend, bomb, chunks=chunks, pids=64, wall_time_s=6.0)
    )
    for _ in range(100):
        if chunks:
            break
        await asyncio.sleep(0.05)
    assert chunks == [("stdout", "holding\n")]
    victim = await run_job(
        bwrap_backend, "import os\nos.waitpid(os.fork(), 0)\nprint('fine')", pids=16
    )
    assert victim.outcome is Outcome.SUCCEEDED, victim.error or victim.stderr
    assert victim.stdout == "fine\n"
    assert (await bombing).outcome is Outcome.TIMED_OUT


async def test_spinning_processes_are_bounded_in_cpu_rate(bwrap_backend: BwrapBackend) -> None:
    if not bwrap_backend.cpu_rate_limited:
        pytest.fail(NO_CPU_CGROUP)
    source = (
        "import os, time\n"
        "start = time.monotonic()\n"
        "pids = []\n"
        "for _ in range(4):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        while time.monotonic() - start < 3:\n"
        "            pass\n"
        "        os._exit(0)\n"
        "    pids.append(pid)\n"
        "for pid in pids:\n"
        "    os.waitpid(pid, 0)\n"
        "t = os.times()\n"
        "print((t.children_user + t.children_system) / (time.monotonic() - start))\n"
    )
    result = await run_job(bwrap_backend, source, cpus=0.5, wall_time_s=20.0)
    assert result.outcome is Outcome.SUCCEEDED, result.stderr
    assert float(result.stdout) <= 0.75  # half a CPU, with room for the period's rounding
    assert "CPU rate bounded" in bwrap_backend.isolation


async def test_runtime_description_says_whether_the_cpu_rate_is_bounded(
    bwrap_backend: BwrapBackend,
) -> None:
    settings = Settings(env="dev", executor_backend="bwrap", executor_in_process=True)
    runtime = JobRuntime(settings, None, "")  # type: ignore[arg-type]
    runtime.backend, runtime.worker = bwrap_backend, object()  # type: ignore[assignment]
    detail = runtime.state.detail
    assert bwrap_backend.isolation in detail
    bounded = "CPU rate bounded by a cgroup" if bwrap_backend.cpu_rate_limited else "NOT limited"
    assert bounded in detail


# -- the cpu cgroups, on a directory laid out like the cgroup v1 hierarchy -----------------------


def _fake_hierarchy(tmp_path: Path) -> Path:
    own = Path("/proc/self/cgroup").read_text().splitlines()
    controllers, path = next(
        (c, p) for _, c, p in (line.split(":", 2) for line in own) if "cpu" in c.split(",")
    )
    group = tmp_path / controllers / path.lstrip("/")
    group.mkdir(parents=True, exist_ok=True)
    (group / "cpu.cfs_quota_us").write_text("-1")
    return group


def test_cpu_groups_get_the_jobs_quota_and_are_removed_on_close(tmp_path: Path) -> None:
    parent = _fake_hierarchy(tmp_path)
    stale = parent / "nimbus-bwrap-999999999"  # a worker that died
    (stale / "slot-0").mkdir(parents=True)
    groups = CpuCgroups(tmp_path)
    assert groups.setup()
    assert not stale.exists()
    procs = groups.procs_file(3, 0.5)
    base = groups.base
    assert base is not None and base.parent == parent
    assert base.name.startswith(f"nimbus-bwrap-{os.getpid()}-")  # a tag per backend
    assert procs == base / "slot-3" / "cgroup.procs"
    assert (procs.parent / "cpu.cfs_quota_us").read_text() == str(CFS_PERIOD_US // 2)
    assert (procs.parent / "cpu.cfs_period_us").read_text() == str(CFS_PERIOD_US)
    for name in ("cpu.cfs_quota_us", "cpu.cfs_period_us"):
        (procs.parent / name).unlink()  # real cgroup files vanish with the group
    groups.close()
    assert not base.exists()


def test_closing_one_backends_cpu_groups_keeps_anothers(tmp_path: Path) -> None:
    # one process may hold two backends (a worker and a check): the first close once removed
    # the groups the second's jobs were being moved into
    parent = _fake_hierarchy(tmp_path)
    first, second = CpuCgroups(tmp_path), CpuCgroups(tmp_path)
    assert first.setup() and second.setup()
    procs = second.procs_file(0, 1.0)
    for name in ("cpu.cfs_quota_us", "cpu.cfs_period_us"):
        (first.procs_file(0, 1.0).parent / name).unlink()
    first.close()
    assert procs.parent.is_dir() and second.base is not None and second.base.parent == parent


def test_no_cpu_hierarchy_means_no_rate_limit(tmp_path: Path) -> None:
    groups = CpuCgroups(tmp_path)
    assert not groups.setup()
    with pytest.raises(RuntimeError, match="no writable cpu hierarchy"):
        groups.procs_file(0, 1.0)


async def test_a_job_that_cannot_join_its_cpu_group_never_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = BwrapBackend()
    await backend.check()
    if not backend.cpu_rate_limited:
        pytest.fail(NO_CPU_CGROUP)

    def refuse(slot: int, cpus: float) -> Path:
        raise OSError("cgroup refused")

    monkeypatch.setattr(backend.cgroups, "procs_file", refuse)
    try:
        result = await run_job(backend, "open('ran.txt', 'w').write('ran')\nprint('ran')")
    finally:
        await backend.close()
    assert result.outcome is Outcome.ERROR
    assert result.stdout == "" and result.files == []


async def test_missing_util_linux_is_explained() -> None:
    backend = BwrapBackend()
    backend.prlimit = None
    with pytest.raises(ExecutorUnavailable, match="apt-get install util-linux"):
        await backend.check()
