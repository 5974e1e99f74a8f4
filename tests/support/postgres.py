"""A throwaway PostgreSQL cluster from the local server binaries, owned by the test run.

initdb/postgres refuse to run as root, so as root the cluster runs as the `postgres` user in a
directory it owns. It listens on 127.0.0.1 only, on a free port, with fsync off (it is disposable).
"""

from __future__ import annotations

import glob
import os
import shutil
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
    process: subprocess.Popen[bytes]
    run_as: list[str]
    bindir: Path
    log: IO[bytes]

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

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM = smart shutdown; our own pid only
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
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
    port = free_port()
    log = (directory / "postgres.log").open("wb")
    process = subprocess.Popen(
        [
            *run_as,
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-k",
            str(directory),
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
        stderr=log,
    )
    cluster = Cluster(directory, port, process, run_as, bindir, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (directory / "postgres.log").read_text(errors="replace")
            raise RuntimeError(f"postgres exited during start-up:\n{log}")
        ready = subprocess.run(
            [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
        )
        if ready.returncode == 0:
            return cluster
        time.sleep(0.1)
    cluster.stop()
    raise RuntimeError("postgres did not become ready within 30 s")
