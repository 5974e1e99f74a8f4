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
    command: list[str] = field(default_factory=list, repr=False)
    _data: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    def _signal_and_wait(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def restart(self, down_s: float = 0.0) -> None:
        """Stop the daemon we started (SIGTERM, as a service restart does: its containers
        stop) and start it again on the same socket and data root."""
        if not self.command:
            raise RuntimeError("only a daemon this run started can be restarted")
        self._signal_and_wait()
        time.sleep(down_s)
        assert self.log_path is not None
        self.process = _launch(self.command, self.log_path)
        _wait_until_answers(self)

    def stop(self) -> None:
        """Stop the daemon this fixture started (by its pid), nothing else."""
        if self.process is None:
            return
        self._signal_and_wait()
        self.process = None
        for tmp in (self._tmp, self._data):
            if tmp is not None:
                tmp.cleanup()


def _launch(command: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def _wait_until_answers(engine: Engine, timeout_s: float = 60) -> None:
    assert engine.process is not None and engine.log_path is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if engine.process.poll() is not None:
            tail = engine.log_path.read_text(errors="replace")[-3000:]
            code = engine.process.returncode
            engine.stop()
            raise RuntimeError(f"dockerd exited with {code}; log tail:\n{tail}")
        if engine_answers(engine.docker_host):
            return
        time.sleep(0.2)
    engine.stop()
    raise RuntimeError(f"dockerd did not answer within {timeout_s} s; see {engine.log_path}")


def _missing_tools() -> list[str]:
    return [tool for tool in ("dockerd", "docker", "debootstrap") if shutil.which(tool) is None]


def start_private_dockerd(*, throwaway: bool = False) -> Engine:
    """A private dockerd. Its data root is kept under the cache dir (images survive between
    runs) unless `throwaway`: then it is a fresh directory of its own, removed on stop — for a
    test that restarts its daemon without disturbing the shared one."""
    missing = _missing_tools()
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not found; install with: {INSTALL_HINT}")
    if os.geteuid() != 0:
        raise RuntimeError("starting a private dockerd needs root (or set NIMBUS_DOCKER_HOST)")
    state = cache_dir() / "dockerd"
    data: tempfile.TemporaryDirectory[str] | None = None
    if throwaway:
        data = tempfile.TemporaryDirectory(prefix="nimbus-dockerd-data-", dir=cache_dir())
        data_root = Path(data.name)
    else:
        data_root = state / "data"
        data_root.mkdir(parents=True, exist_ok=True)
    # unix socket paths are limited to ~108 bytes: keep the runtime dir short, in /tmp
    tmp = tempfile.TemporaryDirectory(prefix="nimbus-dockerd-")
    run_dir = Path(tmp.name)
    sock = run_dir / "docker.sock"
    log_path = (data_root if throwaway else state) / "dockerd.log"
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
    engine = Engine(
        docker_host=f"unix://{sock}",
        process=_launch(cmd, log_path),
        log_path=log_path,
        _tmp=tmp,
        command=cmd,
        _data=data,
    )
    _wait_until_answers(engine)
    return engine


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
