"""`nimbus serve` as a user starts it: a real process on 127.0.0.1 that migrates its SQLite file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx

from tests.support.postgres import free_port


def test_serve_migrates_and_answers(tmp_path):
    port = free_port()
    # The executor backend is left on "auto", as `make run` leaves it: start-up must survive
    # a machine without a Docker socket.
    env = {**os.environ, "NIMBUS_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "api", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "nimbus serve did not become ready"
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            time.sleep(0.2)
        r = httpx.post(
            f"{base}/api/v1/auth/register",
            json={"email": "a@example.com", "password": "long-enough", "full_name": "A"},
        )
        assert r.status_code == 201
        assert httpx.get(f"{base}/docs").status_code == 200
        # one app per process, so its /metrics are its own: labelled by route template
        for path in ("WEB-424242", "WEB-424242", "WEB-7"):  # the second one: remembered
            httpx.get(f"{base}/api/v1/bugs/{path}")
        metrics = httpx.get(f"{base}/metrics").text
        counted = re.search(
            r'http_requests_total\{handler="/api/v1/bugs/\{bug_id\}",method="GET",'
            r'status="4xx"\} (\S+)',
            metrics,
        )
        assert counted is not None and float(counted.group(1)) == 3, metrics
        assert 'handler="/api/v1/auth/register"' in metrics
        assert "WEB-424242" not in metrics
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
    assert (tmp_path / "nimbus.db").exists()
    assert (tmp_path / "secret_key").exists()
