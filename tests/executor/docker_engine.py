"""A real Docker engine for the tests: reuse one that answers, else start a private dockerd.

The private daemon runs without a bridge, iptables or forwarding (containers use network
``none``), keeps its data root under ``~/.cache/nimbus/dockerd`` so the runtime image survives
between runs, listens on its own unix socket, and is stopped by pid — only the one we started.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from executor.image.build import DEFAULT_TAG, build_image, cache_dir

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
INSTALL_HINT = "apt-get install -y docker.io debootstrap"


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def engine_answers(docker_host: str, timeout_s: float = 2.0) -> bool:
    """True when ``GET /_ping`` on a unix-socket docker host returns OK."""
    if not docker_host.startswith("unix://"):
        return False
    conn = _UnixHTTPConnection(docker_host.removeprefix("unix://"), timeout_s)
    try:
        conn.request("GET", "/_ping")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


@dataclass
class Engine:
    docker_host: str
    image: str = DEFAULT_TAG
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    def stop(self) -> None:
        """Stop the daemon this fixture started (by its pid), nothing else."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
        if self._tmp is not None:
            self._tmp.cleanup()


def _missing_tools() -> list[str]:
    return [tool for tool in ("dockerd", "docker", "debootstrap") if shutil.which(tool) is None]


def start_private_dockerd() -> Engine:
    missing = _missing_tools()
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not found; install with: {INSTALL_HINT}")
    if os.geteuid() != 0:
        raise RuntimeError("starting a private dockerd needs root (or set NIMBUS_DOCKER_HOST)")
    state = cache_dir() / "dockerd"
    data_root = state / "data"
    data_root.mkdir(parents=True, exist_ok=True)
    # unix socket paths are limited to ~108 bytes: keep the runtime dir short, in /tmp
    tmp = tempfile.TemporaryDirectory(prefix="nimbus-dockerd-")
    run_dir = Path(tmp.name)
    sock = run_dir / "docker.sock"
    log_path = state / "dockerd.log"
    cmd = [
        shutil.which("dockerd") or "dockerd",
        "--bridge=none",
        "--iptables=false",
        "--ip-forward=false",
        "--ip-masq=false",
        f"--data-root={data_root}",
        f"--exec-root={run_dir / 'exec'}",
        f"--pidfile={run_dir / 'dockerd.pid'}",
        f"--host=unix://{sock}",
        "--storage-driver=overlay2",
    ]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    engine = Engine(docker_host=f"unix://{sock}", process=proc, log_path=log_path, _tmp=tmp)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            engine.stop()
            raise RuntimeError(f"dockerd exited with {proc.returncode}; log tail:\n{tail}")
        if engine_answers(engine.docker_host):
            return engine
        time.sleep(0.2)
    engine.stop()
    raise RuntimeError(f"dockerd did not answer within 60 s; see {log_path}")


def acquire_engine(image: str = DEFAULT_TAG) -> Engine:
    """Return an engine with ``image`` present, starting a private dockerd if needed."""
    requested = os.environ.get("NIMBUS_DOCKER_HOST")
    candidates = [requested] if requested else [DEFAULT_SOCKET]
    engine: Engine | None = None
    for host in candidates:
        if engine_answers(host):
            engine = Engine(docker_host=host, image=image)
            break
    if engine is None:
        if requested:
            raise RuntimeError(f"NIMBUS_DOCKER_HOST={requested} does not answer")
        engine = start_private_dockerd()
        engine.image = image
    missing = [tool for tool in ("docker", "debootstrap") if shutil.which(tool) is None]
    try:
        build_image(docker_host=engine.docker_host, tag=image)
    except Exception as exc:
        engine.stop()
        hint = f" (install with: {INSTALL_HINT})" if missing else ""
        raise RuntimeError(f"could not build the sandbox image {image}: {exc}{hint}") from exc
    return engine
