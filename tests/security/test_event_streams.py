"""Attacks on job event streams (issue 18, finding 15): many SSE connections on one job.

1,000 streams on one running job took `GET /users/me` from 6 ms to 3.6 s median: each stream
queried the database on every wake-up, and nothing capped how many a user or a job could have.
Now streams are capped per user and per job (429 with Retry-After), one feed per job reads the
database once per wake-up for all its watchers, and a client that stops reading is dropped.
Against a live uvicorn server (real sockets), PostgreSQL and the Docker worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text

from api.jobs import sse
from api.models import JobStatus, Role
from tests.conftest import auth_headers
from tests.jobs.fixtures import JOBS
from tests.jobs.test_jobs_live import parse_sse

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SLEEPER = "import time\nprint('started', flush=True)\ntime.sleep({s})\n"
TICKER = "import time\nfor i in range({n}):\n    print(i, flush=True)\n    time.sleep(0.1)\n"


async def running_job(live: Any, user: Any, source: str, **limits: Any) -> str:
    r = await live.submit(user, {"source": source, "limits": {"wall_time_s": 60, **limits}})
    assert r.status_code == 202, r.text
    job_id: str = r.json()["id"]
    await live.wait_status(job_id, JobStatus.running)
    return job_id


@contextlib.asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient, job_id: str, user: Any
) -> AsyncIterator[httpx.Response]:
    """A stream whose head has arrived (so its slot is taken), held open until the block ends."""
    request = client.build_request("GET", f"{JOBS}/{job_id}/events", headers=auth_headers(user))
    response = await client.send(request, stream=True)
    try:
        yield response
    finally:
        await response.aclose()


async def streams_open(live: Any) -> int:
    slots = getattr(live.app.state, "job_stream_slots", None)
    return 0 if slots is None else int(slots.open)


async def wait_streams_open(live: Any, n: int, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            if await streams_open(live) == n:
                return
            await asyncio.sleep(0.02)


def assert_too_many_streams(r: httpx.Response) -> None:
    assert r.status_code == 429, r.text[:200]
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "too_many_streams"
    assert int(r.headers["retry-after"]) >= 1


async def test_a_user_cannot_open_more_streams_than_allowed(live_factory, serve) -> None:
    async with live_factory(job_sse_max_streams_per_user=3) as live:
        dev = await live.user()
        base = await serve(live.app)
        job_id = await running_job(live, dev, SLEEPER.format(s=20))
        async with (
            httpx.AsyncClient(base_url=base, timeout=30) as c,
            contextlib.AsyncExitStack() as held,
        ):
            for _ in range(3):
                r = await held.enter_async_context(open_stream(c, job_id, dev))
                assert r.status_code == 200
            refused = await c.get(f"{JOBS}/{job_id}/events", headers=auth_headers(dev))
            assert_too_many_streams(refused)
            # the same user's stream on another job is refused too: the cap is per user
            other = await live.submit(dev, {"source": "print(1)"}, wait=20)
            r = await c.get(f"{JOBS}/{other.json()['id']}/events", headers=auth_headers(dev))
            assert_too_many_streams(r)
            # someone else is not affected by this user's streams
            admin = await live.user(Role.admin)
            async with open_stream(c, job_id, admin) as r:
                assert r.status_code == 200
        cancel = await live.client.post(f"{JOBS}/{job_id}/cancel", headers=auth_headers(dev))
        assert cancel.status_code in (200, 202)


async def test_a_job_cannot_have_more_streams_than_allowed(live_factory, serve) -> None:
    async with live_factory(job_sse_max_streams_per_job=2) as live:
        dev, admin = await live.user(), await live.user(Role.admin)
        base = await serve(live.app)
        job_id = await running_job(live, dev, SLEEPER.format(s=20))
        async with (
            httpx.AsyncClient(base_url=base, timeout=30) as c,
            open_stream(c, job_id, dev) as one,
            open_stream(c, job_id, admin) as two,
        ):
            assert (one.status_code, two.status_code) == (200, 200)
            r = await c.get(f"{JOBS}/{job_id}/events", headers=auth_headers(admin))
            assert_too_many_streams(r)
        await live.client.post(f"{JOBS}/{job_id}/cancel", headers=auth_headers(dev))


async def test_a_process_cannot_have_more_streams_than_allowed(live_factory, serve) -> None:
    """Many users (each under their own cap) on many jobs still meet one cap per process."""
    async with live_factory(job_sse_max_streams=3) as live:
        base = await serve(live.app)
        users = [await live.user() for _ in range(4)]
        jobs = []
        for user in users:  # queued or running: either way their streams stay open
            r = await live.submit(user, {"source": SLEEPER.format(s=20)})
            assert r.status_code == 202, r.text
            jobs.append(r.json()["id"])
        async with (
            httpx.AsyncClient(base_url=base, timeout=30) as c,
            contextlib.AsyncExitStack() as held,
        ):
            for user, job_id in zip(users[:3], jobs[:3], strict=True):
                r = await held.enter_async_context(open_stream(c, job_id, user))
                assert r.status_code == 200
            refused = await c.get(f"{JOBS}/{jobs[3]}/events", headers=auth_headers(users[3]))
            assert_too_many_streams(refused)
            assert "server" in refused.json()["detail"]
            await held.aclose()  # one hangs up: the next one gets in
            await wait_streams_open(live, 0)
            async with open_stream(c, jobs[3], users[3]) as r:
                assert r.status_code == 200
        for user, job_id in zip(users, jobs, strict=True):
            await live.client.post(f"{JOBS}/{job_id}/cancel", headers=auth_headers(user))


async def test_closing_a_stream_frees_its_slot(live_factory, serve) -> None:
    async with live_factory(job_sse_max_streams_per_user=2) as live:
        dev = await live.user()
        base = await serve(live.app)
        job_id = await running_job(live, dev, SLEEPER.format(s=20))
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            async with open_stream(c, job_id, dev):
                async with open_stream(c, job_id, dev):
                    r = await c.get(f"{JOBS}/{job_id}/events", headers=auth_headers(dev))
                    assert_too_many_streams(r)
                # the client hung up: its slot is free again, promptly
                await wait_streams_open(live, 1)
                async with open_stream(c, job_id, dev) as again:
                    assert again.status_code == 200
            await wait_streams_open(live, 0)
        await live.client.post(f"{JOBS}/{job_id}/cancel", headers=auth_headers(dev))


async def test_a_client_that_stops_reading_is_dropped_and_its_slot_freed(
    live_factory, serve
) -> None:
    """The client reads nothing while its job's output (8 MB: more than the kernel buffers
    of a loopback connection, which grow to 4 MB) fills the socket."""
    settings = {
        "job_sse_max_streams_per_user": 1,
        "job_sse_send_timeout_s": 1.0,
        "job_max_output_bytes": 9_000_000,
    }
    async with live_factory(**settings) as live:
        dev = await live.user()
        base = await serve(live.app)
        source = (
            "import sys, time\n"
            "for i in range(8000):\n"
            "    print('x' * 999, flush=True)\n"
            "time.sleep(30)\n"
        )
        job_id = await running_job(live, dev, source, output_bytes=9_000_000)
        port = int(base.rsplit(":", 1)[1])
        token = auth_headers(dev)["Authorization"]
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(stalled, ("127.0.0.1", port))
            request = (
                f"GET {JOBS}/{job_id}/events HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n\r\n"
            )
            stalled.send(request.encode())
            await wait_streams_open(live, 1)
            async with httpx.AsyncClient(base_url=base, timeout=30) as c:
                url, headers = f"{JOBS}/{job_id}/events", auth_headers(dev)
                assert_too_many_streams(await c.get(url, headers=headers))
                await wait_streams_open(live, 0, timeout_s=20)  # dropped once a write waits 1 s
                async with open_stream(c, job_id, dev) as r:
                    assert r.status_code == 200
        finally:
            stalled.close()
        await live.client.post(f"{JOBS}/{job_id}/cancel", headers=auth_headers(dev))


class Queries:
    """Counts the statements that read job events, on the engine every session uses."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine.sync_engine
        self.count = 0

    def __enter__(self) -> Queries:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "job_event" in statement:
            self.count += 1


async def median_ms(client: httpx.AsyncClient, headers: dict[str, str], n: int = 15) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        r = await client.get("/api/v1/users/me", headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200
        await asyncio.sleep(0.02)
    return statistics.median(times)


async def test_many_watchers_of_a_job_share_its_reads_and_leave_the_api_answering(
    live_factory, serve
) -> None:
    watchers = 40
    async with live_factory(
        job_sse_max_streams_per_user=watchers + 1, job_sse_max_streams_per_job=watchers + 1
    ) as live:
        dev = await live.user()
        base = await serve(live.app)
        job_id = await running_job(live, dev, TICKER.format(n=150))
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            idle = await median_ms(c, auth_headers(dev))
            async with contextlib.AsyncExitStack() as held:
                first = await held.enter_async_context(open_stream(c, job_id, dev))
                drain = [asyncio.create_task(first.aread())]
                await asyncio.sleep(0.5)
                with Queries(live.app.state.engine) as one:
                    await asyncio.sleep(2.0)
                for _ in range(watchers - 1):
                    r = await held.enter_async_context(open_stream(c, job_id, dev))
                    drain.append(asyncio.create_task(r.aread()))
                await asyncio.sleep(0.5)
                with Queries(live.app.state.engine) as many:
                    await asyncio.sleep(2.0)
                busy = await median_ms(c, auth_headers(dev))
                for task in drain:
                    task.cancel()
                await asyncio.gather(*drain, return_exceptions=True)
        print(
            f"\nGET /users/me median {idle:.1f} ms idle, {busy:.1f} ms with {watchers} streams;"
            f" event reads: {one.count} with 1 watcher, {many.count} with {watchers}"
        )
        assert busy < 1000
        assert many.count <= 2 * one.count + 10, (one.count, many.count)
        await live.client.post(f"{JOBS}/{job_id}/cancel", headers=auth_headers(dev))


async def test_a_replay_longer_than_what_a_feed_keeps_is_complete_and_resumable(
    live, monkeypatch
) -> None:
    """A feed keeps only the newest events; a watcher behind them reads the rest itself."""
    monkeypatch.setattr(sse, "KEEP_EVENTS", 3)
    monkeypatch.setattr(sse, "BATCH", 4)
    dev = await live.user()
    job = (await live.submit(dev, {"source": TICKER.format(n=12)}, wait=30)).json()
    assert job["status"] == "succeeded"
    url = f"{JOBS}/{job['id']}/events"
    events = parse_sse((await live.client.get(url, headers=auth_headers(dev))).text)
    ids = [i for i, _, _ in events]
    assert ids == list(range(1, len(ids) + 1)) and len(ids) > 3 * 3
    assert events[-1][1] == "exit"
    assert "".join(d["data"] for _, k, d in events if k == "stdout") == "".join(
        f"{i}\n" for i in range(12)
    )
    resumed = await live.client.get(url, headers={**auth_headers(dev), "Last-Event-ID": "2"})
    assert parse_sse(resumed.text) == events[2:]


async def test_a_stream_of_a_job_deleted_meanwhile_ends(live, serve) -> None:
    dev = await live.user()
    base = await serve(live.app)
    job_id = await running_job(live, dev, SLEEPER.format(s=20))
    async with httpx.AsyncClient(base_url=base, timeout=30) as c, open_stream(c, job_id, dev) as r:
        assert r.status_code == 200
        async with live.sessionmaker() as session:
            await session.execute(text("DELETE FROM job WHERE id = :id"), {"id": job_id})
            await session.commit()
        async with asyncio.timeout(10):
            body = await r.aread()
    assert b"event: status" in body and b"event: exit" not in body
    await wait_streams_open(live, 0)
