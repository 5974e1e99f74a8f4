"""Sign-ins vs. everyone else: how much reads slow down while people sign in.

Each sign-in costs one argon2 verification (~20 ms of CPU). Run on the event loop, it stalled
every other request for that long; in a thread (argon2 releases the GIL) the loop goes on.
Prints `GET /users/me` latency alone and during concurrent sign-in loops, and the ratios; asserts
nothing. Embedded mode (SQLite), served by uvicorn on loopback in this process. Run:
    uv run python -m tests.bench.bench_signin [--reads 200] [--signers 4]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from api import migrations
from api.config import Settings
from api.main import create_app
from tests.support.served import run_like_nimbus_serve, served

ACCOUNT = {"username": "ann@example.com", "password": "long-enough-pw"}


async def read_latencies(client: httpx.AsyncClient, headers: dict[str, str], n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        r = await client.get("/users/me", headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200, r.text
        await asyncio.sleep(0.01)
    return times


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


async def measure(reads: int, signers: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="nimbus-bench-signin-"))
    settings = Settings(
        data_dir=tmp, spa_dir=tmp / "no-spa", executor_backend="off", login_max_failures=10**6
    )
    await asyncio.to_thread(migrations.upgrade, settings.effective_database_url)
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        served(app) as base,
        httpx.AsyncClient(base_url=f"{base}/api/v1", timeout=30) as c,
    ):
        body = {"email": ACCOUNT["username"], "password": ACCOUNT["password"], "full_name": "A"}
        assert (await c.post("/auth/register", json=body)).status_code == 201
        token = (await c.post("/auth/token", data=ACCOUNT)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        alone = await read_latencies(c, headers, reads)
        signed_in = 0
        stop = asyncio.Event()

        async def sign_in_loop() -> None:
            nonlocal signed_in
            while not stop.is_set():
                r = await c.post("/auth/token", data=ACCOUNT)
                assert r.status_code == 200, r.text
                signed_in += 1

        loops = [asyncio.create_task(sign_in_loop()) for _ in range(signers)]
        started = time.perf_counter()
        busy = await read_latencies(c, headers, reads)
        elapsed = time.perf_counter() - started
        stop.set()
        await asyncio.gather(*loops)
    return {
        "alone p50": statistics.median(alone),
        "alone p95": p95(alone),
        "during sign-ins p50": statistics.median(busy),
        "during sign-ins p95": p95(busy),
        "sign-ins/s": signed_in / elapsed,
    }


def main(reads: int, signers: int) -> None:
    r = run_like_nimbus_serve(measure(reads, signers))
    print(f"\nGET /users/me ({reads} reads), alone and while {signers} clients sign in in a loop")
    for name, value in r.items():
        print(f"  {name:<22} {value:8.1f}{'' if name == 'sign-ins/s' else ' ms'}")
    print(f"  p50 during / alone     = {r['during sign-ins p50'] / r['alone p50']:.2f}x")
    print(f"  p95 during / alone     = {r['during sign-ins p95'] / r['alone p95']:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--signers", type=int, default=4)
    args = parser.parse_args()
    main(args.reads, args.signers)
