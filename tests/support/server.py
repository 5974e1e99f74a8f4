"""`nimbus serve` and `nimbus worker` as real processes on 127.0.0.1, started and stopped by pid.

Load, fault and memory measurements need the API as users run it: its own process, its own
event loop, real sockets. Everything else about it comes from NIMBUS_ environment variables.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from tests.support.postgres import free_port

SECRET = "load-test-secret-key-that-is-long-enough-for-hs256"


def nimbus_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The parent's environment without its NIMBUS_ settings, plus `settings` (name → value)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIMBUS_")}
    # Let the child cache bytecode: without it every start compiles the whole dependency tree
    # again (~7 s of CPU), which dominates the fault tests on a busy machine.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        {
            "NIMBUS_DATA_DIR": str(data_dir),
            "NIMBUS_SECRET_KEY": SECRET,
            "NIMBUS_HOST": "127.0.0.1",
            "NIMBUS_LOG_LEVEL": "WARNING",
            "NIMBUS_SPA_DIR": str(data_dir / "no-spa"),
        }
    )
    env.update({f"NIMBUS_{k.upper()}": v for k, v in settings.items()})
    return env


@dataclass
class Process:
    """A nimbus process this test run started; only ever signalled by its own pid."""

    process: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def rss_bytes(self) -> int:
        """Resident set size of the process, from /proc (Linux)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no VmRSS for pid {self.pid}")

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind (crash tests)."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout_s: float = 15) -> None:
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@dataclass
class Server(Process):
    base_url: str = ""

    @property
    def api(self) -> str:
        return f"{self.base_url}/api/v1"


def _spawn(
    args: list[str], env: dict[str, str], log_path: Path
) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "api", *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    return proc, log


def start_server(env: dict[str, str], *, migrate: bool = True, timeout_s: float = 60) -> Server:
    """`nimbus serve` on a free port; returns once /healthz answers."""
    port = free_port()
    data_dir = Path(env["NIMBUS_DATA_DIR"])
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"serve-{port}.log"
    args = ["serve", "--port", str(port), "--migrate" if migrate else "--no-migrate"]
    proc, log = _spawn(args, env, log_path)
    server = Server(proc, log_path, log, base_url=f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            server.stop()
            raise RuntimeError(f"nimbus serve exited with {proc.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"nimbus serve did not answer within {timeout_s} s")
        time.sleep(0.1)


def start_worker(env: dict[str, str], name: str) -> Process:
    """`nimbus worker` (a job worker alone); the caller waits for whatever it expects of it."""
    log_path = Path(env["NIMBUS_DATA_DIR"]) / f"worker-{name}.log"
    proc, log = _spawn(["worker"], {**env, "NIMBUS_WORKER_ID": name}, log_path)
    return Process(proc, log_path, log)
