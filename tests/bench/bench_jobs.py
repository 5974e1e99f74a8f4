"""Sandbox latency benchmark: print(1) through the warm pool vs. the alternatives.

Prints medians (ms) and ratios; asserts nothing. Run:
    NIMBUS_DOCKER_HOST=unix:///path/docker.sock uv run python -m tests.bench.bench_jobs [-n 15]
Without NIMBUS_DOCKER_HOST it uses the default socket, or starts a private dockerd like the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable

import aiodocker

from executor.backends import DockerBackend, JobSpec
from executor.backends.bwrap import BwrapBackend
from tests.executor.docker_engine import acquire_engine
from tests.support.served import run_like_nimbus_serve

HARDENED_RUN_FLAGS = [
    "--rm",
    "--network=none",
    "--read-only",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
    "--user=65534:65534",
    "--memory=256m",
    "--memory-swap=256m",
    "--pids-limit=64",
    "--cpus=1",
    "--init",
    "--ipc=private",
    "--tmpfs=/tmp:size=64m",
    "--log-driver=none",
]


async def timed(samples: int, job: Callable[[], Awaitable[object]], pause_s: float) -> list[float]:
    results = []
    for _ in range(samples):
        await asyncio.sleep(pause_s)
        started = time.perf_counter()
        await job()
        results.append((time.perf_counter() - started) * 1000)
    return results


async def measure(samples: int) -> dict[str, float]:
    """Median round trip (ms) of print(1) per path, all measured in this one run."""
    engine = acquire_engine()
    host = engine.docker_host
    spec = JobSpec.from_source("print(1)")
    medians: dict[str, float] = {}
    try:
        pool = DockerBackend(host, engine.image, pool_size=2)
        await pool.check()
        assert pool.pool is not None

        async def pooled() -> None:
            assert pool.pool is not None
            await pool.pool.wait_ready()
            started = time.perf_counter()
            result = await pool.run(spec)
            pooled_ms.append((time.perf_counter() - started) * 1000)
            assert result.stdout == "1\n", result

        pooled_ms: list[float] = []
        await timed(samples, pooled, 0.3)  # pause: let the replacement start outside the timing
        medians["warm pool (backend.run)"] = statistics.median(pooled_ms)
        await pool.close()

        one_shot = DockerBackend(host, engine.image)
        await one_shot.check()

        async def single() -> None:
            result = await one_shot.run(spec)
            assert result.stdout == "1\n", result

        medians["one-shot container (backend.run)"] = statistics.median(
            await timed(samples, single, 0.3)
        )
        await one_shot.close()

        def cli_run() -> None:
            cmd = ["docker", "-H", host, "run", *HARDENED_RUN_FLAGS, engine.image]
            out = subprocess.run([*cmd, "python3", "-c", "print(1)"], capture_output=True)
            assert out.stdout == b"1\n", out

        medians["docker run --rm (CLI, hardened)"] = statistics.median(
            await timed(samples, lambda: asyncio.to_thread(cli_run), 0.3)
        )

        async with aiodocker.Docker(url=host) as docker:
            keeper = await docker.containers.create(
                {
                    "Image": engine.image,
                    "Cmd": ["/usr/bin/python3", "-c", "import time; time.sleep(3600)"],
                    "User": "65534:65534",
                    "HostConfig": {"NetworkMode": "none", "ReadonlyRootfs": True, "Init": True},
                }
            )
            await keeper.start()
            try:

                def cli_exec() -> None:
                    cmd = ["docker", "-H", host, "exec", keeper.id, "python3", "-c", "print(1)"]
                    out = subprocess.run(cmd, capture_output=True)
                    assert out.stdout == b"1\n", out

                medians["docker exec python3 -c (CLI)"] = statistics.median(
                    await timed(samples, lambda: asyncio.to_thread(cli_exec), 0.3)
                )
            finally:
                await keeper.delete(force=True)

        bwrap = BwrapBackend()
        await bwrap.check()
        medians["bubblewrap (backend.run)"] = statistics.median(
            await timed(samples, lambda: bwrap.run(spec), 0.1)
        )
    finally:
        engine.stop()
    return medians


async def main(samples: int) -> None:
    medians = await measure(samples)
    width = max(map(len, medians))
    print(f"print(1) round trip, median of {samples} (ms)")
    for name, value in medians.items():
        print(f"  {name:<{width}}  {value:7.1f}")
    pool_ms = medians["warm pool (backend.run)"]
    run_ms = medians["docker run --rm (CLI, hardened)"]
    exec_ms = medians["docker exec python3 -c (CLI)"]
    one_ms = medians["one-shot container (backend.run)"]
    print(f"  pool / docker run --rm   = {pool_ms / run_ms:.2f}x  (target <= 0.35x)")
    print(f"  pool / docker exec       = {pool_ms / exec_ms:.2f}x  (target <= 3x)")
    print(f"  pool / one-shot          = {pool_ms / one_ms:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--samples", type=int, default=15)
    run_like_nimbus_serve(main(parser.parse_args().samples))
