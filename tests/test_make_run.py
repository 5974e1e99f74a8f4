"""The README's set-up, as a newcomer runs it: `make run` in a fresh clone, then a job succeeds.

Minutes per case (uv sync, npm ci and the web app's build in the clone), so these run in
`make test-slow`, not `make test`. The machine keeps its bubblewrap and its images: a missing
sandbox is simulated — no Docker engine answers at a private socket, bubblewrap is off a PATH
that holds every other command (apt-get there is a stand-in that "installs" bubblewrap by putting
the real one on that PATH), and a missing image is an image tag no engine has yet.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.support.postgres import free_port

pytestmark = pytest.mark.make_run

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 900.0  # uv sync, npm ci, the web app's build and, for Docker, the image
FAKE_APT = """#!/bin/sh
# Stands in for apt-get: records the call; "installs" bubblewrap by linking the real one here.
echo "$*" >> "{log}"
case " $* " in *" install "*bubblewrap*) ln -sf "{bwrap}" "{bin}/bwrap" ;; esac
"""


@dataclass
class MakeRun:
    """`make run` in a clone, in its own process group, its output collected as it comes."""

    clone: Path
    env: dict[str, str]
    port: int
    log: list[str] = field(default_factory=list)
    proc: subprocess.Popen[str] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return "\n".join(self.log)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["make", "run"],
            cwd=self.clone,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own group: stopped as a whole, by its id, at the end
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(line.rstrip())

    def wait_ready(self) -> float:
        begun = time.monotonic()
        while time.monotonic() - begun < READY_TIMEOUT_S:
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(f"make run ended ({self.proc.returncode}):\n{self.output[-6000:]}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return time.monotonic() - begun
            except httpx.HTTPError:
                pass
            time.sleep(1)
        pytest.fail(f"make run not serving after {READY_TIMEOUT_S} s:\n{self.output[-6000:]}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone of this repository's HEAD for each case (what a newcomer gets; uncommitted
    work is not in it). uv's, npm's and the image build's caches in $HOME are reused."""
    dest = tmp_path_factory.mktemp("fresh") / "nimbus"
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(dest)],
        check=True,
        timeout=120,
    )
    return dest


def _base_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NIMBUS_", "PYTEST", "COV"))}
    env.pop("VIRTUAL_ENV", None)  # the clone's uv makes and uses its own environment
    env.update(NIMBUS_HOST="127.0.0.1", NIMBUS_PORT=str(free_port()), NIMBUS_LOG_FORMAT="text")
    env["HOME"] = os.environ.get("HOME", str(tmp))  # uv, npm and image caches as a user has them
    return env


def _path_without_bwrap(tmp: Path) -> tuple[str, Path]:
    """A PATH holding a link to every command of this PATH but bwrap, and a stand-in apt-get."""
    shim = tmp / "bin"
    shim.mkdir()
    real_bwrap = shutil.which("bwrap")
    if real_bwrap is None:
        pytest.fail("bubblewrap is not installed: apt-get install bubblewrap", pytrace=False)
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            if entry.name in ("bwrap", "apt-get") or (shim / entry.name).exists():
                continue
            if os.access(entry.path, os.X_OK) and not entry.is_dir():
                (shim / entry.name).symlink_to(entry.path)
    apt_log = tmp / "apt-get.log"
    fake = shim / "apt-get"
    fake.write_text(FAKE_APT.format(log=apt_log, bwrap=real_bwrap, bin=shim))
    fake.chmod(0o755)
    return str(shim), apt_log


@pytest.fixture
def make_run(clone: Path) -> Iterator[MakeRun]:
    """`make run` in the clone; stopped (its process group) at the end."""
    env = _base_env(clone)
    run = MakeRun(clone, env, int(env["NIMBUS_PORT"]))
    try:
        yield run
    finally:
        run.stop()
        print(f"--- make run output (last lines) ---\n{run.output[-3000:]}")


def _a_job_succeeds(run: MakeRun) -> dict[str, object]:
    """Sign up (the first account), run print(6*7), and return the runtime the app reports."""
    with httpx.Client(base_url=run.base, timeout=60) as c:
        account = {"email": "ann@example.com", "password": PASSWORD, "full_name": "Ann Newcomer"}
        signed_up = c.post("/api/v1/auth/register", json=account)
        assert signed_up.status_code == 201, signed_up.text
        form = {"username": account["email"], "password": account["password"]}
        token = c.post("/api/v1/auth/token", data=form).json()["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        r = c.post("/api/v1/jobs", params={"wait": 30}, json={"source": "print(6*7)"}, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "succeeded" and r.json()["stdout"] == "42\n", r.text
        ready = c.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert c.get("/").status_code == 200  # the web app was built and is served
        python, *_ = c.get("/api/v1/runtimes", headers=h).json()["items"]
        return {**python, "readyz": ready.json()}


def test_without_docker_or_bubblewrap_make_run_installs_bubblewrap_and_runs_jobs(
    make_run: MakeRun, tmp_path: Path
):
    path, apt_log = _path_without_bwrap(tmp_path)
    make_run.env["PATH"] = path
    make_run.env["NIMBUS_DOCKER_HOST"] = f"unix://{tmp_path}/no-engine.sock"  # nothing answers
    begun = time.monotonic()
    make_run.start()
    ready_s = make_run.wait_ready()
    runtime = _a_job_succeeds(make_run)
    print(
        f"make run (no Docker, no bubblewrap): serving after {ready_s:.0f} s, "
        f"job done after {time.monotonic() - begun:.0f} s"
    )
    assert "install -y -qq --no-install-recommends bubblewrap" in apt_log.read_text()
    assert "sandbox: bubblewrap" in make_run.output  # make run says which sandbox
    assert runtime["backend"] == "bwrap" and "weaker sandbox" in str(runtime["notice"])
    assert runtime["readyz"]["details"]["executor"] == runtime["notice"]  # type: ignore[index]


@pytest.mark.docker
def test_with_docker_and_no_image_make_run_builds_it_and_runs_jobs(
    make_run: MakeRun, docker_engine
):
    tag = f"nimbus-sandbox:fresh-{uuid.uuid4().hex[:8]}"  # an image no engine has yet
    make_run.env.update(NIMBUS_DOCKER_HOST=docker_engine.docker_host, NIMBUS_SANDBOX_IMAGE=tag)
    try:
        begun = time.monotonic()
        make_run.start()
        ready_s = make_run.wait_ready()
        runtime = _a_job_succeeds(make_run)
        print(
            f"make run (Docker, no image): serving after {ready_s:.0f} s, "
            f"job done after {time.monotonic() - begun:.0f} s"
        )
        assert f"building the sandbox image {tag}" in make_run.output  # with progress
        assert f"sandbox: Docker, the engine at {docker_engine.docker_host}, image {tag}" in (
            make_run.output
        )
        assert runtime["backend"] == "docker" and runtime["notice"] is None
        assert "executor" not in runtime["readyz"]["details"]  # type: ignore[operator]
    finally:
        make_run.stop()
        subprocess.run(
            ["docker", "-H", docker_engine.docker_host, "rmi", tag],
            check=False,
            capture_output=True,
            timeout=60,
        )
