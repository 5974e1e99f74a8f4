"""`nimbus sandbox prepare`, the step of `make run` that leaves a working sandbox and says which."""

from __future__ import annotations

import subprocess

import pytest
from typer.testing import CliRunner

from api.cli import NEEDS_PACKAGES
from api.cli import app as cli
from api.config import get_settings


def _prepare(monkeypatch, tmp_path, **env: str):
    monkeypatch.setenv("NIMBUS_DATA_DIR", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(
            cli, ["sandbox", "prepare", "--missing-file", str(tmp_path / "missing")]
        )
    finally:
        get_settings.cache_clear()


def test_without_docker_it_checks_bubblewrap_and_says_it_is_weaker(monkeypatch, tmp_path):
    r = _prepare(monkeypatch, tmp_path, NIMBUS_DOCKER_HOST=f"unix://{tmp_path}/nothing.sock")
    assert r.exit_code == 0, r.output
    assert "sandbox: bubblewrap" in r.output and "weaker sandbox" in r.output
    assert "`nimbus sandbox build`" in r.output  # how to get the Docker one


def test_without_docker_or_bubblewrap_it_names_the_package_to_install(monkeypatch, tmp_path):
    r = _prepare(
        monkeypatch,
        tmp_path,
        NIMBUS_DOCKER_HOST=f"unix://{tmp_path}/nothing.sock",
        PATH=str(tmp_path / "empty-bin"),
    )
    assert r.exit_code == NEEDS_PACKAGES, r.output
    assert (tmp_path / "missing").read_text() == "bubblewrap\n"


def test_an_explicit_docker_backend_without_an_engine_is_an_error(monkeypatch, tmp_path):
    r = _prepare(
        monkeypatch,
        tmp_path,
        NIMBUS_EXECUTOR_BACKEND="docker",
        NIMBUS_DOCKER_HOST=f"unix://{tmp_path}/nothing.sock",
    )
    assert r.exit_code == 1
    assert "no Docker engine answers" in r.output and "start dockerd" in r.output


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"NIMBUS_EXECUTOR_BACKEND": "off"}, "switched off"),
        ({"NIMBUS_EXECUTOR_IN_PROCESS": "false"}, "separate workers"),
    ],
)
def test_nothing_to_prepare_when_jobs_do_not_run_here(monkeypatch, tmp_path, env, said):
    r = _prepare(monkeypatch, tmp_path, **env)
    assert r.exit_code == 0 and said in r.output


@pytest.mark.docker
def test_with_an_engine_it_builds_a_missing_image_once_with_progress(
    docker_engine, monkeypatch, tmp_path
):
    tag = f"nimbus-sandbox:prepare-{tmp_path.name.lower()[-12:]}"
    env = {"NIMBUS_DOCKER_HOST": docker_engine.docker_host, "NIMBUS_SANDBOX_IMAGE": tag}
    try:
        first = _prepare(monkeypatch, tmp_path, **env)
        assert first.exit_code == 0, first.output
        assert f"building the sandbox image {tag}" in first.output
        assert "docker import" in first.output  # the offline build, step by step
        assert f"sandbox: Docker, the engine at {docker_engine.docker_host}, image {tag}" in (
            first.output
        )
        again = _prepare(monkeypatch, tmp_path, **env)
        assert again.exit_code == 0, again.output
        assert "building" not in again.output  # reused
    finally:
        subprocess.run(
            ["docker", "-H", docker_engine.docker_host, "rmi", tag],
            check=False,
            capture_output=True,
        )
