"""`nimbus serve` and `nimbus worker` as real child processes on 127.0.0.1, with their logs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from tests.support.postgres import free_port

TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256"


@dataclass
class Process:
    """One `python -m api ...` child; its stdout and stderr go to ``log_path``."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM, then SIGKILL if it does not end in time; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def nimbus_env(data_dir: Path, database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a child: ours, plus NIMBUS_* settings (``settings`` without prefix)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIMBUS_")}
    env.update(
        NIMBUS_DATA_DIR=str(data_dir),
        NIMBUS_DATABASE_URL=database_url,
        NIMBUS_SECRET_KEY=TEST_SECRET,
        NIMBUS_SPA_DIR=str(data_dir / "no-spa"),
    )
    env.update({f"NIMBUS_{k.upper()}": v for k, v in settings.items()})
    return env


def start(args: list[str], env: dict[str, str], log_path: Path) -> Process:
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "api", *args], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    return Process(proc, log_path, log)


def start_serve(
    env: dict[str, str], log_path: Path, *, migrate: bool = False, timeout_s: float = 120.0
) -> tuple[Process, str]:
    """`nimbus serve` on a free port of 127.0.0.1, once /readyz answers 200."""
    port = free_port()
    args = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    process = start([*args, "--migrate"] if migrate else args, env, log_path)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        if process.proc.poll() is not None or time.monotonic() > deadline:
            process.stop()
            raise AssertionError(f"nimbus serve did not become ready:\n{process.output()}")
        time.sleep(0.1)
