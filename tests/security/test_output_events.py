"""Attacks on output storage (issue 18, finding 5): output written to amplify the events stored.

A script writing one byte at a time, alternating stdout and stderr, made one stored event per
byte: 43,711 events and 1.9 MB of replay for 70 KB of output. Output is now coalesced per
stream, events per job are capped, and the output budget counts what is stored, events too.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from api.models import JobEvent, JobStatus
from executor.backends import SandboxBackend
from executor.backends.streams import (
    EVENT_COST_BYTES,
    MAX_EVENTS,
    WINDOW_S,
    OutputCollector,
    stored_size,
)
from tests.conftest import auth_headers
from tests.executor.helpers import run_job
from tests.jobs.fixtures import JOBS
from tests.jobs.test_jobs_live import parse_sse

N = 20_000
"""Iterations of the alternating writer: 40 KB of output, one byte per write, paced so that
every write is read on its own (unpaced, the engine joins them: 15,875 events before the fix)."""
ALTERNATING = (
    "import os, time\n"
    f"for i in range({N}):\n"
    "    os.write(1, b'0123456789'[i % 10:i % 10 + 1])\n"
    "    os.write(2, b'abcdefghij'[i % 10:i % 10 + 1])\n"
    "    time.sleep(0.0001)\n"
)
EXPECTED_STDOUT = "".join("0123456789"[i % 10] for i in range(N))
EXPECTED_STDERR = "".join("abcdefghij"[i % 10] for i in range(N))


def most_output_events(duration_ms: int) -> int:
    """Two events (one per stream) per coalescing window of the run, and some slack."""
    return min(MAX_EVENTS, int(2 * duration_ms / 1000 / WINDOW_S) + 10)


def text_of(events: list[tuple[int, str, dict]], kind: str) -> str:
    return "".join(d["data"] for _, k, d in events if k == kind)


async def test_alternating_one_byte_writes_make_few_events_on_every_backend(
    backend: SandboxBackend,
) -> None:
    chunks: list[tuple[str, str]] = []
    result = await run_job(backend, ALTERNATING, wall_time_s=30.0, chunks=chunks)
    assert (result.stdout, result.stderr) == (EXPECTED_STDOUT, EXPECTED_STDERR)
    assert not result.stdout_truncated and not result.stderr_truncated
    assert result.duration_ms is not None
    most = most_output_events(result.duration_ms)
    assert len(chunks) <= most, f"{len(chunks)} output chunks for {2 * N} bytes"
    assert "".join(t for s, t in chunks if s == "stdout") == EXPECTED_STDOUT
    assert "".join(t for s, t in chunks if s == "stderr") == EXPECTED_STDERR


async def test_alternating_one_byte_writes_store_few_events_and_a_small_replay(live) -> None:
    dev = await live.user()
    r = await live.submit(dev, {"source": ALTERNATING, "limits": {"wall_time_s": 30}}, wait=30)
    job = r.json()
    assert job["status"] == "succeeded", r.text
    assert (job["stdout"], job["stderr"]) == (EXPECTED_STDOUT, EXPECTED_STDERR)
    async with live.sessionmaker() as session:
        stored = await session.scalar(
            select(func.count()).where(JobEvent.job_id == uuid.UUID(job["id"]))
        )
    replay = (await live.client.get(f"{JOBS}/{job['id']}/events", headers=auth_headers(dev))).text
    events = parse_sse(replay)
    most = most_output_events(job["duration_ms"]) + 4  # and the status and exit events
    assert len(events) == stored and stored <= most, f"{stored} events for {2 * N} bytes"
    output = len(EXPECTED_STDOUT) + len(EXPECTED_STDERR)
    print(f"{stored} events, {len(replay.encode())} bytes of replay for {output} bytes of output")
    assert len(replay.encode()) <= 2 * output, f"{len(replay)} bytes of replay for {output}"
    assert (text_of(events, "stdout"), text_of(events, "stderr")) == (
        EXPECTED_STDOUT,
        EXPECTED_STDERR,
    )
    ids = [i for i, _, _ in events]
    assert ids == list(range(1, len(ids) + 1))


async def test_stored_output_is_bounded_by_twice_the_budget_whatever_is_written(live) -> None:
    """Control characters JSON-escape to six bytes each and tiny writes each cost a row: the
    budget counts both, so columns + events stay within 2 x output_bytes (+ two free events)."""
    dev = await live.user()
    budget = 20_000
    source = (
        "import os, time\n"
        "for i in range(4000):\n"
        "    os.write(1 + i % 2, b'\\x01\\x02')\n"
        "    if i % 50 == 0:\n"
        "        time.sleep(0.06)\n"
    )
    body = {"source": source, "limits": {"wall_time_s": 30, "output_bytes": budget}}
    job = (await live.submit(dev, body, wait=30)).json()
    assert job["status"] == "output_exceeded"
    assert job["stdout_truncated"] or job["stderr_truncated"]
    async with live.sessionmaker() as session:
        rows = (
            await session.execute(
                select(JobEvent.kind, JobEvent.data).where(
                    JobEvent.job_id == uuid.UUID(job["id"]),
                    col(JobEvent.kind).in_(("stdout", "stderr")),
                )
            )
        ).all()
    columns = len(job["stdout"].encode()) + len(job["stderr"].encode())
    events = sum(len(data.encode()) + EVENT_COST_BYTES for _, data in rows)
    assert columns + events <= 2 * budget + 2 * EVENT_COST_BYTES + 2 * len('{"data":""}')
    assert columns > budget // 10  # the budget was used for output, not lost
    assert sum(stored_size(json.loads(d)["data"]) for _, d in rows) >= columns


async def test_a_print_then_a_sleep_streams_before_the_job_ends(live, serve) -> None:
    dev = await live.user()
    base = await serve(live.app)
    source = "import time\nprint('first', flush=True)\ntime.sleep(4)\nprint('second')"
    job_id = (await live.submit(dev, {"source": source})).json()["id"]
    seen: list[tuple[int, str, dict]] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        url = f"{JOBS}/{job_id}/events"
        async with c.stream("GET", url, headers=auth_headers(dev)) as r:
            buffer = ""
            async with asyncio.timeout(20):
                async for chunk in r.aiter_text():
                    buffer += chunk
                    seen = parse_sse(buffer.rsplit("\n\n", 1)[0])
                    if text_of(seen, "stdout"):
                        break
    assert text_of(seen, "stdout") == "first\n"
    assert (await live.job(job_id)).status == JobStatus.running  # live, not at the end
    await live.wait_status(job_id, JobStatus.succeeded)


@pytest.mark.parametrize("writes", [1, 7])
async def test_events_per_run_never_exceed_the_cap(writes: int) -> None:
    """Without a sandbox: even a run that flushes as often as it can stays under `MAX_EVENTS`."""
    calls: list[tuple[str, str]] = []

    async def sink(stream: str, text: str) -> None:
        calls.append((stream, text))

    collector = OutputCollector(10_000_000, sink, window_s=0.0, slow_window_s=0.0)
    for i in range(3 * MAX_EVENTS):
        for _ in range(writes):
            await collector.feed("stdout" if i % 2 else "stderr", b"x")
        await asyncio.sleep(0)
    await collector.finish()
    assert len(calls) <= MAX_EVENTS
    assert sum(len(t) for _, t in calls) == 3 * MAX_EVENTS * writes
