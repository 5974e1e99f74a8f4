"""CPU time and peak memory of a run, stored with the job and served by the API (#24), on the
real Docker engine and on bubblewrap. Bounds are sane, not tight (see
tests/executor/test_resource_figures.py for the figures at the backend level)."""

from __future__ import annotations

import pytest

from executor.backends import SandboxBackend
from tests.conftest import auth_headers
from tests.jobs.fixtures import JOBS

MIB = 1 << 20
BUSY = (
    "import time\nstart = time.process_time()\nwhile time.process_time() - start < 0.5:\n    pass\n"
)


@pytest.fixture(params=["docker", "bwrap"])
def sandbox(request: pytest.FixtureRequest, sandbox: SandboxBackend) -> SandboxBackend:
    """The live app's backend: the shared Docker one, or bubblewrap."""
    if request.param == "docker":
        return sandbox
    bwrap: SandboxBackend = request.getfixturevalue("bwrap_backend")
    return bwrap


async def _run(live, source: str) -> dict:
    dev = await live.user()
    r = await live.submit(dev, {"source": source}, wait=30)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "succeeded", r.text
    got = await live.client.get(f"{JOBS}/{r.json()['id']}", headers=auth_headers(dev))
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["cpu_time_ms"] == r.json()["cpu_time_ms"]
    assert body["peak_memory_bytes"] == r.json()["peak_memory_bytes"]
    return body


async def _samples(live) -> tuple[float, float, float]:
    """Samples in the CPU and memory histograms, and the CPU seconds they sum to."""
    values = {}
    for line in (await live.client.get("/metrics")).text.splitlines():
        name, _, value = line.partition(" ")
        values[name] = value
    return (
        float(values["nimbus_job_cpu_seconds_count"]),
        float(values["nimbus_job_peak_memory_bytes_count"]),
        float(values["nimbus_job_cpu_seconds_sum"]),
    )


@pytest.mark.slow
async def test_a_busy_loop_stores_its_cpu_time(live, sandbox):
    cpu_before, memory_before, sum_before = await _samples(live)
    body = await _run(live, BUSY)
    print(f"{sandbox.name}: 0.5 s busy loop -> {body['cpu_time_ms']} ms CPU via the API")
    assert body["cpu_time_ms"] is not None and 450 <= body["cpu_time_ms"] <= 2000, body
    cpu_after, memory_after, sum_after = await _samples(live)
    assert cpu_after == cpu_before + 1 and memory_after == memory_before + 1
    assert sum_after - sum_before == pytest.approx(body["cpu_time_ms"] / 1000)


@pytest.mark.slow
async def test_a_100_mb_allocation_stores_its_peak_memory(live, sandbox):
    body = await _run(live, "block = b'm' * (100 << 20)\n")
    peak = body["peak_memory_bytes"]
    print(f"{sandbox.name}: 100 MiB allocation -> peak {peak and peak // MIB} MiB via the API")
    assert peak is not None and 100 * MIB <= peak < 200 * MIB, body
