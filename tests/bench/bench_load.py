"""HTTP load benchmark: a realistic mix against a live `nimbus serve` (PostgreSQL, Docker sandbox).

Prints throughput and p50/p99 per endpoint group, and the audit of every acknowledged write.
It starts a throwaway PostgreSQL cluster and (if no engine answers) a private dockerd. Run:
    uv run python -m tests.bench.bench_load [--duration 60] [--users 12]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from tests.executor.docker_engine import acquire_engine
from tests.support.load import LiveLoad, live_load
from tests.support.postgres import start_cluster
from tests.support.served import run_like_nimbus_serve


async def measure(duration_s: float, users: int) -> LiveLoad:
    cluster = await asyncio.to_thread(start_cluster)
    engine = await asyncio.to_thread(acquire_engine)
    try:
        cluster.psql("CREATE DATABASE bench_load")
        return await live_load(
            cluster.url("bench_load"),
            Path(tempfile.mkdtemp(prefix="nimbus-bench-load-")),
            duration_s,
            users=users,
            docker_host=engine.docker_host,
            sandbox_image=engine.image,
        )
    finally:
        await asyncio.to_thread(engine.stop)
        await asyncio.to_thread(cluster.stop)


def print_run(run: LiveLoad) -> None:
    result = run.result
    print(f"{result.duration_s:.0f} s, {result.concurrency} virtual users")
    print(
        f"  {'group':16} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'4xx':>4} {'5xx':>4}"
    )
    for group, row in result.table().items():
        print(
            f"  {group:16} {row['requests']:8d} {row['per_s']:7.1f} {row['p50_ms']:8.1f} "
            f"{row['p99_ms']:8.1f} {row['4xx']:4d} {row['5xx']:4d}"
        )
    print(f"  acknowledged writes: {result.writes.counts()}")
    print(f"  missing afterwards: {len(run.audit.missing)}; jobs: {dict(run.audit.job_statuses)}")
    print(f"  requests without an answer: {len(result.no_response)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--users", type=int, default=12)
    args = parser.parse_args()
    print_run(run_like_nimbus_serve(measure(args.duration, args.users)))
