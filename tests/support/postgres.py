"""A throwaway PostgreSQL cluster from the local server binaries, owned by the test run.

initdb/postgres refuse to run as root, so as root the cluster runs as the `postgres` user in a
directory it owns. It listens on 127.0.0.1 only, on a free port, with fsync off (it is disposable).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

INSTALL_HINT = (
    "PostgreSQL server binaries are needed for the tests: run `make test` (it installs them) "
    "or `apt-get install postgresql`"
)


def _bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for path in candidates:
        if (Path(path) / "postgres").exists():
            return Path(path)
    found = shutil.which("postgres")
    if found:
        return Path(found).parent
    raise RuntimeError(INSTALL_HINT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None
    run_as: list[str]
    bindir: Path
    log: IO[bytes] | None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://nimbus@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str) -> None:
        subprocess.run(
            [
                *self.run_as,
                str(self.bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "nimbus",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        """Start the server on the cluster's directory and port; returns once it accepts."""
        self.log = (self.directory / "postgres.log").open("ab")
        self.process = subprocess.Popen(
            [
                *self.run_as,
                str(self.bindir / "postgres"),
                "-D",
                str(self.directory / "data"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                str(self.directory),
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.directory / "postgres.log").read_text(errors="replace")
                raise RuntimeError(f"postgres exited during start-up:\n{log[-3000:]}")
            ready = subprocess.run(
                [str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("postgres did not become ready within 30 s")

    def shut_down(self, *, fast: bool = True) -> None:
        """Stop the server but keep the cluster (restart it with `start`). Fast shutdown
        (SIGINT) disconnects clients; smart (SIGTERM) waits for them. Our own pid only."""
        if self.process is not None and self.process.poll() is None:
            # As root, self.process is runuser, which does not pass SIGINT on: signal the
            # postmaster itself (its pid is the first line of postmaster.pid).
            pidfile = self.directory / "data" / "postmaster.pid"
            try:
                pid = int(pidfile.read_text().split()[0])
            except (OSError, IndexError, ValueError):
                pid = self.process.pid
            os.kill(pid, signal.SIGINT if fast else signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(pid, signal.SIGQUIT)  # immediate shutdown
                self.process.wait(timeout=15)
        if self.log is not None:
            self.log.close()
            self.log = None

    def stop(self) -> None:
        self.shut_down(fast=False)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_cluster() -> Cluster:
    bindir = _bindir()
    directory = Path(tempfile.mkdtemp(prefix="nimbus-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    data = directory / "data"
    subprocess.run(
        [
            *run_as,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "nimbus",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    cluster = Cluster(directory, free_port(), None, run_as, bindir, None)
    cluster.start()
    return cluster
