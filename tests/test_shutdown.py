"""SIGTERM to a real `nimbus serve`: in-flight requests are answered, SSE streams end cleanly
(instead of holding the drain until its timeout) and the process exits 0; its log is JSON."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from typing import Any

import httpx
import pytest

from tests.support.postgres import Cluster
from tests.support.processes import nimbus_env, start_serve

pytestmark = pytest.mark.slow

GRACE_S = 30  # uvicorn's drain timeout here: a stream that hangs would take this long


def test_sigterm_drains_requests_and_ends_sse_streams(pg_cluster: Cluster, tmp_path):
    name = f"nimbus_shutdown_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    pg_cluster.psql(f"DROP DATABASE IF EXISTS {name}")
    pg_cluster.psql(f"CREATE DATABASE {name}")
    env = nimbus_env(
        tmp_path,
        pg_cluster.url(name),
        executor_in_process="false",  # jobs stay queued: nothing here runs them
        log_format="json",
        shutdown_grace_s=str(GRACE_S),
        job_sse_keepalive_s="1",
    )
    process, base = start_serve(env, tmp_path / "serve.log", migrate=True)
    try:
        api = f"{base}/api/v1"
        user = {"email": "a@example.com", "password": "long enough pw", "full_name": "A"}
        assert httpx.post(f"{api}/auth/register", json=user).status_code == 201
        token = httpx.post(
            f"{api}/auth/token", data={"username": user["email"], "password": user["password"]}
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        job = httpx.post(f"{api}/jobs", json={"source": "print(1)"}, headers=auth).json()
        assert job["status"] == "queued"

        results: dict[str, Any] = {}
        streaming = threading.Event()

        def follow() -> None:
            headers = {**auth, "X-Request-ID": "sse-follower-1"}
            try:
                with httpx.stream(
                    "GET", f"{api}/jobs/{job['id']}/events", headers=headers, timeout=60
                ) as r:
                    results["sse_status"] = r.status_code
                    text = ""
                    for chunk in r.iter_text():
                        text += chunk
                        if "event: status" in text:
                            streaming.set()
                    results["sse_body"] = text
            except Exception as exc:  # a stream cut off at the drain timeout lands here
                results["sse_error"] = repr(exc)
            results["sse_ended"] = time.monotonic()

        def wait_for_job() -> None:
            try:
                r = httpx.post(
                    f"{api}/jobs?wait=25", json={"source": "print(2)"}, headers=auth, timeout=60
                )
                results["wait_status"] = r.status_code
                results["wait_job"] = r.json()
            except Exception as exc:
                results["wait_error"] = repr(exc)
            results["wait_ended"] = time.monotonic()

        threads = [threading.Thread(target=follow), threading.Thread(target=wait_for_job)]
        for t in threads:
            t.start()
        assert streaming.wait(30), results
        time.sleep(1.0)  # the long poll is in flight too
        assert "wait_ended" not in results and "sse_ended" not in results

        sent = time.monotonic()
        process.proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(timeout=GRACE_S + 15)
        exit_code = process.proc.wait(timeout=GRACE_S + 15)
        exited = time.monotonic()
    finally:
        process.stop()
    output = process.output()

    assert "sse_error" not in results and "wait_error" not in results, (results, output)
    assert results["sse_status"] == 200
    assert results["sse_body"].startswith("retry: ") and "event: status" in results["sse_body"]
    assert results["sse_ended"] - sent < 10, "the SSE stream held the shutdown up"
    assert results["wait_status"] == 202 and results["wait_job"]["status"] == "queued"
    assert results["wait_ended"] - sent < 10, "the ?wait long poll held the shutdown up"
    # uvicorn re-raises the signal once it has shut down cleanly (so a supervisor sees it)
    assert exit_code in (0, -signal.SIGTERM), output
    assert "Application shutdown complete." in output
    assert exited - sent < GRACE_S, output

    entries = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert {"time", "level", "logger", "message"} <= entries[0].keys()
    followed = [e for e in entries if e.get("request_id") == "sse-follower-1"]
    assert followed and "/events" in followed[0]["message"], entries
    assert not [e for e in entries if e["level"] in ("ERROR", "CRITICAL")], output
