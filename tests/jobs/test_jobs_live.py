"""Jobs end to end: the API, an in-process worker, PostgreSQL and a real Docker engine."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from api.models import JobStatus
from tests.conftest import auth_headers
from tests.jobs.fixtures import JOBS

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TICKS = (
    "import sys, time\nfor i in range({n}):\n    print(i, flush=True)\n    time.sleep({pause})\n"
)


def parse_sse(text: str) -> list[tuple[int, str, dict]]:
    events = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.split("\n") if line and not line.startswith(":")
        )
        if "id" in fields:
            events.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
    return events


def stdout_of(events) -> str:
    return "".join(d["data"] for _, kind, d in events if kind == "stdout")


async def test_wait_returns_the_finished_job(live):
    dev = await live.user()
    r = await live.submit(dev, {"source": "print(1)"}, wait=20)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "succeeded" and body["exit_code"] == 0 and body["stdout"] == "1\n"
    assert body["started_at"] and body["finished_at"] and body["duration_ms"] >= 0
    assert body["attempts"] == 1
    metrics = (await live.client.get("/metrics")).text
    assert 'nimbus_jobs_total{status="succeeded"}' in metrics
    assert "nimbus_job_queue_wait_seconds_count" in metrics
    assert "nimbus_job_duration_seconds_count" in metrics
    assert "nimbus_job_queue_depth" in metrics and "nimbus_sandbox_pool_available" in metrics


async def test_stdin_args_and_a_failing_exit(live):
    dev = await live.user()
    src = "import sys\nprint(sys.stdin.read()[::-1], sys.argv[1:])\nsys.exit(3)"
    r = await live.submit(dev, {"source": src, "stdin": "abc", "args": ["x", "y z"]}, wait=20)
    body = r.json()
    assert body["status"] == "failed" and body["exit_code"] == 3
    assert body["stdout"] == "cba ['x', 'y z']\n"


async def test_wall_time_limit_ends_timed_out(live):
    dev = await live.user()
    r = await live.submit(
        dev, {"source": "while True: pass", "limits": {"wall_time_s": 1}}, wait=20
    )
    assert r.json()["status"] == "timed_out"


async def test_without_finishing_in_time_wait_answers_202_with_the_job_as_it_is_now(live):
    """Not the snapshot from before the wait: by then a worker has it running."""
    dev = await live.user()
    r = await live.submit(dev, {"source": "import time; time.sleep(6)"}, wait=4)
    assert r.status_code == 202 and r.json()["status"] == "running", r.text
    assert r.json()["started_at"] is not None
    job = await live.wait_status(r.json()["id"], JobStatus.succeeded)
    assert job.exit_code == 0


async def test_a_nul_in_the_output_is_stored_and_shown_like_any_unrenderable_byte(live):
    """PostgreSQL text cannot hold NUL: the output could not be stored, and the job ended in
    error for what the user's script printed."""
    dev = await live.user()
    src = "import sys\nprint('a\\0b')\nsys.stderr.buffer.write(b'\\x00')"
    body = (await live.submit(dev, {"source": src}, wait=20)).json()
    assert (body["status"], body["stdout"], body["stderr"]) == ("succeeded", "a\ufffdb\n", "\ufffd")


async def test_output_files_can_be_listed_and_downloaded(live):
    dev = await live.user()
    src = "import os\nos.makedirs('out')\nopen('out/report.csv', 'w').write('a,b\\n1,2\\n')\n"
    body = (await live.submit(dev, {"source": src}, wait=20)).json()
    assert body["files"] == [
        {"path": "out/report.csv", "size": 8, "sha256": body["files"][0]["sha256"]}
    ]
    r = await live.client.get(
        f"{JOBS}/{body['id']}/files/out/report.csv", headers=auth_headers(dev)
    )
    assert r.content == b"a,b\n1,2\n"
    assert r.headers["content-disposition"].startswith('attachment; filename="report.csv"')


async def test_events_stream_live_in_order_and_end_with_exit(live, serve):
    dev = await live.user()
    base = await serve(live.app)
    job_id = (await live.submit(dev, {"source": TICKS.format(n=5, pause=0.1)})).json()["id"]
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        r = await c.get(f"{JOBS}/{job_id}/events", headers=auth_headers(dev))
    events = parse_sse(r.text)
    ids = [i for i, _, _ in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) and ids[0] == 1
    statuses = [d["status"] for _, kind, d in events if kind == "status"]
    assert statuses == ["queued", "running", "succeeded"]
    assert events[-1][1] == "exit" and events[-1][2]["status"] == "succeeded"
    assert events[-1][2]["id"] == job_id and "stdout" not in events[-1][2]
    assert stdout_of(events) == "0\n1\n2\n3\n4\n"
    assert len([e for e in events if e[1] == "stdout"]) >= 2  # streamed, not one blob at exit


async def test_a_client_that_disconnects_resumes_with_last_event_id(live, serve):
    dev = await live.user()
    base = await serve(live.app)
    job_id = (await live.submit(dev, {"source": TICKS.format(n=8, pause=0.15)})).json()["id"]
    seen: list[tuple[int, str, dict]] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        async with c.stream("GET", f"{JOBS}/{job_id}/events", headers=auth_headers(dev)) as r:
            buffer = ""
            async for chunk in r.aiter_text():
                buffer += chunk
                seen = parse_sse(buffer.rsplit("\n\n", 1)[0])
                if any(kind == "stdout" for _, kind, _ in seen):
                    break  # hang up mid-job
        job = await live.job(job_id)
        assert job.status == JobStatus.running
        last = seen[-1][0]
        r = await c.get(
            f"{JOBS}/{job_id}/events",
            headers={**auth_headers(dev), "Last-Event-ID": str(last)},
        )
    rest = parse_sse(r.text)
    assert rest[0][0] == last + 1 and rest[-1][1] == "exit"
    assert stdout_of(seen + rest) == "".join(f"{i}\n" for i in range(8))


async def test_many_watchers_see_the_same_stream(live, serve):
    dev = await live.user()
    base = await serve(live.app)
    job_id = (await live.submit(dev, {"source": TICKS.format(n=4, pause=0.1)})).json()["id"]
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        responses = await asyncio.gather(
            *(c.get(f"{JOBS}/{job_id}/events", headers=auth_headers(dev)) for _ in range(6))
        )
    streams = [parse_sse(r.text) for r in responses]
    assert all(s == streams[0] for s in streams)
    assert streams[0][-1][1] == "exit"


async def test_idle_streams_send_keep_alive_comments(live, serve):
    dev = await live.user()
    base = await serve(live.app)
    job_id = (await live.submit(dev, {"source": "import time; time.sleep(1.5)"})).json()["id"]
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        r = await c.get(f"{JOBS}/{job_id}/events", headers=auth_headers(dev))
    assert ": keep-alive\n\n" in r.text and parse_sse(r.text)[-1][1] == "exit"


async def test_cancelling_a_running_job_kills_it(live):
    dev = await live.user()
    job_id = (await live.submit(dev, {"source": "import time; time.sleep(30)"})).json()["id"]
    await live.wait_status(job_id, JobStatus.running)
    r = await live.client.post(f"{JOBS}/{job_id}/cancel", headers=auth_headers(dev))
    assert r.status_code in (200, 202)
    job = await live.wait_status(job_id, JobStatus.cancelled, timeout_s=10)
    assert job.finished_at is not None and (job.finished_at - job.started_at).total_seconds() < 10


async def test_readyz_and_runtimes_report_the_docker_executor(live):
    dev = await live.user()
    ready = await live.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["executor"] == "ok"
    python, *_ = (await live.client.get("/api/v1/runtimes", headers=auth_headers(dev))).json()[
        "items"
    ]
    assert python["available"] is True and python["backend"] == "docker"


async def test_concurrent_jobs_all_finish(live):
    users = [await live.user() for _ in range(3)]
    responses = await asyncio.gather(
        *(live.submit(u, {"source": f"print({i})"}, wait=30) for i, u in enumerate(users * 2))
    )
    assert [r.json()["status"] for r in responses] == ["succeeded"] * 6
    assert [r.json()["stdout"] for r in responses] == [f"{i}\n" for i in range(6)]


async def test_input_past_the_end_of_stdin_says_so(live):
    dev = await live.user()
    r = await live.submit(dev, {"source": "name = input()\nprint(name)\n"}, wait=20)
    body = r.json()
    assert body["status"] == "failed" and body["exit_code"] == 1, r.text
    assert body["hint"]["code"] == "stdin_exhausted"
    r = await live.submit(dev, {"source": "name = input()\n", "stdin": "Ann\n"}, wait=20)
    assert r.json()["status"] == "succeeded" and r.json()["hint"] is None
