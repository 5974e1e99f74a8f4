"""Event streams vs. everyone else: `GET /users/me` while many clients follow one running job.

Before issue 18 each stream queried the database on every wake-up of its job (1,000 streams
took /users/me from 6 ms to 3.6 s median); now one feed per job reads once for all watchers.
A job is claimed and fed output every 50 ms through the real queue functions (no sandbox
needed), N clients follow its events, and /users/me is timed with 0 and N streams open.
Prints the medians, their ratio and the event reads per second; asserts nothing. Embedded mode
(SQLite), served by uvicorn on loopback in this process. Run:
    uv run python -m tests.bench.bench_event_streams [--streams 100] [--reads 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

from api import migrations
from api.config import Settings
from api.jobs import queue, service
from api.jobs.schemas import JobCreate
from api.main import create_app
from api.models import User
from tests.support.served import run_like_nimbus_serve, served

UNPOOLED = httpx.Limits(max_connections=None, max_keepalive_connections=None)
ACCOUNT = {"email": "ann@example.com", "password": "long-enough-pw-42", "full_name": "Ann"}


async def median_ms(client: httpx.AsyncClient, headers: dict[str, str], n: int) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        r = await client.get("/api/v1/users/me", headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200, r.text
        await asyncio.sleep(0.01)
    return statistics.median(times)


async def feed_output(app: Any, owner_id: int, stop: asyncio.Event) -> str:
    """Queue a job, claim it and append a line of output every 50 ms until ``stop``."""
    maker = app.state.sessionmaker
    executor = service.ExecutorState(available=True, backend="bench", detail="")
    async with maker() as session:
        owner = await session.get(User, owner_id)
        assert owner is not None
        job, _ = await service.create_job(
            session, app.state.settings, executor, owner, JobCreate(source="pass")
        )
        await session.commit()
        claimed = await queue.claim(session, "bench", 600, 1)
        await session.commit()
    assert claimed and claimed[0].id == job.id

    async def tick() -> None:
        i = 0
        while not stop.is_set():
            async with maker() as session:
                output = [("stdout", f"line {i}\n")]
                await queue.heartbeat(session, job.id, "bench", 1, 600, output)
                await session.commit()
            i += 1
            await asyncio.sleep(0.05)

    app.state.bench_ticker = asyncio.create_task(tick())
    return str(job.id)


async def measure(streams: int, reads: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="nimbus-bench-streams-"))
    settings = Settings(
        data_dir=tmp,
        spa_dir=tmp / "no-spa",
        executor_backend="off",
        job_sse_max_streams_per_user=streams,
        job_sse_max_streams_per_job=streams,
    )
    await asyncio.to_thread(migrations.upgrade, settings.effective_database_url)
    app = create_app(settings)
    event_reads = 0

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        nonlocal event_reads
        if statement.lstrip().upper().startswith("SELECT") and "job_event" in statement:
            event_reads += 1

    stop = asyncio.Event()
    async with (
        app.router.lifespan_context(app),
        served(app) as base,
        httpx.AsyncClient(base_url=base, timeout=60) as c,
        httpx.AsyncClient(base_url=base, timeout=60, limits=UNPOOLED) as watchers,
    ):
        assert (await c.post("/api/v1/auth/register", json=ACCOUNT)).status_code == 201
        form = {"username": ACCOUNT["email"], "password": ACCOUNT["password"]}
        token = (await c.post("/api/v1/auth/token", data=form)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        me = (await c.get("/api/v1/users/me", headers=headers)).json()
        job_id = await feed_output(app, me["id"], stop)
        await asyncio.sleep(0.5)
        await median_ms(c, headers, 20)  # warm up
        alone = await median_ms(c, headers, reads)
        event.listen(app.state.engine.sync_engine, "before_cursor_execute", count)
        async with contextlib.AsyncExitStack() as held:
            drains = []
            for _ in range(streams):
                url = f"/api/v1/jobs/{job_id}/events"
                response = await watchers.send(
                    watchers.build_request("GET", url, headers=headers), stream=True
                )
                held.push_async_callback(response.aclose)
                assert response.status_code == 200, response.status_code
                drains.append(asyncio.create_task(response.aread()))
            await asyncio.sleep(0.5)
            event_reads = 0
            started = time.perf_counter()
            busy = await median_ms(c, headers, reads)
            per_s = event_reads / (time.perf_counter() - started)
            refused = await watchers.get(f"/api/v1/jobs/{job_id}/events", headers=headers)
            result = {
                "alone": alone,
                "with streams": busy,
                "event reads/s": per_s,
                "one more stream": float(refused.status_code),
            }
            report(streams, reads, result)  # now: an old server may take long to shut down
            for task in drains:
                task.cancel()
            await asyncio.gather(*drains, return_exceptions=True)
        event.remove(app.state.engine.sync_engine, "before_cursor_execute", count)
        stop.set()
        await app.state.bench_ticker
    return result


def main(streams: int, reads: int) -> None:
    run_like_nimbus_serve(measure(streams, reads))


def report(streams: int, reads: int, r: dict[str, float]) -> None:
    print(f"\nGET /users/me median ({reads} reads), alone and while {streams} streams follow a job")
    print(f"  alone                 {r['alone']:8.1f} ms")
    print(f"  with {streams:<4} streams     {r['with streams']:8.1f} ms")
    print(f"  ratio                 {r['with streams'] / r['alone']:8.2f}x")
    print(f"  event reads/s         {r['event reads/s']:8.1f} (one feed, ~20 wake-ups/s)")
    print(f"  stream {streams + 1} answered   {r['one more stream']:8.0f}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--reads", type=int, default=100)
    args = parser.parse_args()
    main(args.streams, args.reads)
