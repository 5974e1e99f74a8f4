"""Jobs API benchmark: `POST /jobs?wait` round trip and sustained throughput, against baselines.

Prints medians and ratios in one run; asserts nothing. It starts a throwaway PostgreSQL cluster
and (if no engine answers) a private dockerd like the tests, and runs the API in-process with an
in-process worker on the warm pool. Run:
    uv run python -m tests.bench.bench_jobs_api [-n 15] [--jobs 48]

- round trip: `POST /api/v1/jobs?wait=10` of `print(1)` (HTTP in-process, PostgreSQL queue,
  worker, warm pool) vs. a bare hardened `docker run --rm` and vs. `docker exec python3 -c` in a
  running container (targets: <= 0.35x and <= 3x).
- throughput at concurrency 8: jobs/s through the API vs. raw aiodocker
  create/start/wait/delete of a hardened one-shot container (target: >= 1.0x).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import aiodocker
import httpx

from api import migrations
from api.config import Settings
from api.db import create_engine, create_sessionmaker
from api.main import create_app
from api.models import Role, User
from api.security import create_access_token, hash_password
from executor.backends import DockerBackend
from executor.backends.base import DEFAULT_LIMITS
from executor.backends.docker import container_config
from tests.bench.bench_jobs import HARDENED_RUN_FLAGS
from tests.executor.docker_engine import acquire_engine
from tests.support.postgres import start_cluster
from tests.support.served import run_like_nimbus_serve

CONCURRENCY = 8
SECRET = "bench-secret-key-that-is-long-enough-for-hs256"


async def median_ms(samples: int, job, pause_s: float = 0.3, settle=None) -> float:
    times = []
    for _ in range(samples):
        await asyncio.sleep(pause_s)
        if settle is not None:
            await settle()  # let the pool replace the used container outside the timing
        started = time.perf_counter()
        await job()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def throughput(total: int, job) -> float:
    queue = asyncio.Queue[int]()
    for i in range(total):
        queue.put_nowait(i)

    async def lane() -> None:
        while not queue.empty():
            queue.get_nowait()
            await job()

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(CONCURRENCY)))
    return total / (time.perf_counter() - started)


async def measure(samples: int, total: int) -> dict[str, float]:
    """Latency medians (ms) and throughputs (jobs/s), all measured in this one run."""
    cluster = start_cluster()
    engine_ = acquire_engine()
    host = engine_.docker_host
    results: dict[str, float] = {}
    try:
        cluster.psql("CREATE DATABASE bench")
        url = cluster.url("bench")
        await asyncio.to_thread(migrations.upgrade, url)
        db = create_engine(url)
        maker = create_sessionmaker(db)
        async with maker() as session:
            user = User(
                email="bench@example.com",
                full_name="Bench",
                password_hash=await hash_password("long-enough"),
                role=Role.developer,
            )
            session.add(user)
            await session.commit()
        assert user.id is not None
        headers = {"Authorization": f"Bearer {create_access_token(user.id, SECRET, 3600).token}"}

        async def api_run(concurrency: int, pool: int, measure) -> float:
            tmp = Path(tempfile.mkdtemp(prefix="nimbus-bench-"))
            settings = Settings(
                secret_key=SECRET,
                data_dir=tmp,
                database_url=url,
                spa_dir=tmp / "no-spa",
                executor_backend="docker",
                docker_host=host,
                job_concurrency=concurrency,
                sandbox_pool_size=pool,
                job_submit_rate_per_minute=100_000,
                job_max_active_per_user=1000,
                worker_reap_on_start=False,
            )
            backend = DockerBackend(host, engine_.image, pool_size=pool)
            await backend.check()
            app = create_app(settings)
            app.state.engine, app.state.sessionmaker = db, maker
            app.state.sandbox_backend = backend
            try:
                async with app.router.lifespan_context(app):
                    transport = httpx.ASGITransport(app=app)
                    async with httpx.AsyncClient(
                        transport=transport, base_url="http://bench", timeout=60
                    ) as client:

                        async def job() -> None:
                            r = await client.post(
                                "/api/v1/jobs?wait=10",
                                json={"source": "print(1)"},
                                headers=headers,
                            )
                            assert r.status_code == 200 and r.json()["stdout"] == "1\n", r.text

                        async def settle() -> None:
                            async with asyncio.timeout(60):
                                while backend.pool_available < pool:  # noqa: ASYNC110
                                    await asyncio.sleep(0.02)

                        await job()  # warm up
                        return await measure(job, settle)
            finally:
                await backend.close()

        results["POST /jobs?wait print(1), warm pool (ms)"] = await api_run(
            1, 2, lambda job, settle: median_ms(samples, job, settle=settle)
        )

        def cli_run() -> None:
            cmd = ["docker", "-H", host, "run", *HARDENED_RUN_FLAGS, engine_.image]
            out = subprocess.run([*cmd, "python3", "-c", "print(1)"], capture_output=True)
            assert out.stdout == b"1\n", out

        results["docker run --rm, hardened (ms)"] = await median_ms(
            samples, lambda: asyncio.to_thread(cli_run)
        )

        async with aiodocker.Docker(url=host) as docker:
            keeper = await docker.containers.create(
                {
                    "Image": engine_.image,
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

                results["docker exec python3 -c (ms)"] = await median_ms(
                    samples, lambda: asyncio.to_thread(cli_exec)
                )
            finally:
                await keeper.delete(force=True)

            config = container_config(
                engine_.image, DEFAULT_LIMITS, ["/usr/bin/python3", "-c", "print(1)"]
            )
            del config["HostConfig"]["Mounts"]  # no volume: the cheapest honest one-shot
            config["WorkingDir"] = "/"
            config["OpenStdin"] = config["StdinOnce"] = config["AttachStdin"] = False

            async def raw() -> None:
                container = await docker.containers.create(config)
                try:
                    await container.start()
                    await container.wait()
                finally:
                    await container.delete(force=True)

            await raw()
            results["raw aiodocker create/start/wait/delete, c=8 (jobs/s)"] = await throughput(
                total, raw
            )

        results["POST /jobs?wait, c=8 (jobs/s)"] = await api_run(
            CONCURRENCY, CONCURRENCY, lambda job, _settle: throughput(total, job)
        )
        await db.dispose()
    finally:
        engine_.stop()
        cluster.stop()
    return results


async def main(samples: int, total: int) -> None:
    results = await measure(samples, total)
    width = max(map(len, results))
    print(f"\nJobs API benchmark ({samples} samples for latency, {total} jobs for throughput)")
    for name, value in results.items():
        print(f"  {name:<{width}}  {value:8.1f}")
    api_ms = results["POST /jobs?wait print(1), warm pool (ms)"]
    print(
        f"  API / docker run --rm   = {api_ms / results['docker run --rm, hardened (ms)']:.2f}x"
        "  (target <= 0.35x)"
    )
    print(
        f"  API / docker exec       = {api_ms / results['docker exec python3 -c (ms)']:.2f}x"
        "  (target <= 3x)"
    )
    api_tp = results["POST /jobs?wait, c=8 (jobs/s)"]
    raw_tp = results["raw aiodocker create/start/wait/delete, c=8 (jobs/s)"]
    print(f"  API / raw throughput    = {api_tp / raw_tp:.2f}x  (target >= 1.0x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--samples", type=int, default=15)
    parser.add_argument("--jobs", type=int, default=48)
    args = parser.parse_args()
    run_like_nimbus_serve(main(args.samples, args.jobs))
