"""CPU time and peak memory per run (#24), measured by the kernel on every backend: Docker's from
the container's cgroup (read by the host while the container lives), bubblewrap's from the
sandbox supervisor's getrusage of every process it reaped (sent over its socket, which the
program has no descriptor for). Bounds are sane, not tight: the figures include the sandbox's
own supervisor (a few ms and MB)."""

from __future__ import annotations

from pathlib import Path

import pytest

from executor.backends import Outcome, SandboxBackend
from executor.backends.docker.sandbox import CgroupFiles, Usage
from tests.executor.helpers import run_job

MIB = 1 << 20
BUSY = (
    "import time\nstart = time.process_time()\nwhile time.process_time() - start < 0.5:\n    pass\n"
)
BUSY_CHILD = (
    "import subprocess, sys\n"
    f"subprocess.run([sys.executable, '-c', {BUSY!r}], check=True)\n"
    "print('child done')\n"
)


@pytest.mark.slow
async def test_a_busy_loop_reports_its_cpu_time(backend: SandboxBackend):
    result = await run_job(backend, BUSY)
    assert result.outcome == Outcome.SUCCEEDED, result
    print(f"{backend.name}: 0.5 s busy loop -> {result.cpu_time_ms} ms CPU")
    assert result.cpu_time_ms is not None and 450 <= result.cpu_time_ms <= 2000


@pytest.mark.slow
async def test_the_cpu_time_of_a_child_process_is_counted(backend: SandboxBackend):
    result = await run_job(backend, BUSY_CHILD)
    assert result.stdout == "child done\n", result
    assert result.cpu_time_ms is not None and 450 <= result.cpu_time_ms <= 2000, result


@pytest.mark.slow
async def test_a_100_mb_allocation_reports_its_peak_memory(backend: SandboxBackend):
    result = await run_job(backend, "block = b'm' * (100 << 20)\n")
    assert result.outcome == Outcome.SUCCEEDED, result
    peak = result.peak_memory_bytes
    print(f"{backend.name}: 100 MiB allocation -> peak {peak and peak // MIB} MiB")
    assert peak is not None and 100 * MIB <= peak <= 200 * MIB


ID = "ab" * 32


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("driver", "version", "cpu", "memory"),
    [
        ("cgroupfs", "1", f"cpuacct/docker/{ID}/cpuacct.usage", f"memory/docker/{ID}"),
        (
            "systemd",
            "1",
            f"cpuacct/system.slice/docker-{ID}.scope/cpuacct.usage",
            f"memory/system.slice/docker-{ID}.scope",
        ),
    ],
)
def test_cgroup_v1_figures_are_read_where_the_driver_keeps_them(
    tmp_path, driver, version, cpu, memory
):
    _write(tmp_path / cpu, "1234567890\n")
    _write(tmp_path / memory / "memory.max_usage_in_bytes", "104857600\n")
    usage = CgroupFiles(driver, version, tmp_path).read(ID)
    assert usage == Usage(cpu_time_ms=1235, peak_memory_bytes=100 * MIB)


def test_cgroup_v2_figures_come_from_cpu_stat_and_memory_peak(tmp_path):
    group = tmp_path / "system.slice" / f"docker-{ID}.scope"
    _write(group / "cpu.stat", "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
    _write(group / "memory.peak", "52428800\n")
    assert CgroupFiles("systemd", "2", tmp_path).read(ID) == Usage(2500, 50 * MIB)


def test_figures_are_unknown_without_the_files_or_for_an_odd_id(tmp_path):
    assert CgroupFiles("cgroupfs", "1", tmp_path).read(ID) == Usage()
    _write(tmp_path / "cpuacct" / "docker" / ".." / "cpuacct.usage", "1\n")
    assert CgroupFiles("cgroupfs", "1", tmp_path).read("../x") == Usage()
