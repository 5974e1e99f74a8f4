"""The `nimbus` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from api.cli import app

runner = CliRunner()


def test_migrate_and_create_admin_on_sqlite(tmp_path, monkeypatch):
    monkeypatch.setenv("NIMBUS_DATA_DIR", str(tmp_path))
    from api.config import get_settings

    get_settings.cache_clear()
    try:
        r = runner.invoke(app, ["migrate"])
        assert r.exit_code == 0, r.output
        r = runner.invoke(
            app,
            [
                "create-admin",
                "--email",
                "root@example.com",
                "--full-name",
                "Root",
                "--password",
                "long-enough",
            ],
        )
        assert r.exit_code == 0, r.output
        assert "created admin root@example.com" in r.output
        again = runner.invoke(
            app,
            [
                "create-admin",
                "--email",
                "root@example.com",
                "--full-name",
                "Root",
                "--password",
                "long-enough",
            ],
        )
        assert again.exit_code == 1
        assert "already exists" in again.output
        short = runner.invoke(
            app,
            ["create-admin", "--email", "x@example.com", "--full-name", "X", "--password", "short"],
        )
        assert short.exit_code != 0
    finally:
        get_settings.cache_clear()
    assert (tmp_path / "nimbus.db").exists()


def test_openapi_command_writes_the_spec(tmp_path):
    out = tmp_path / "openapi.json"
    r = runner.invoke(app, ["openapi", "-o", str(out)])
    assert r.exit_code == 0
    spec = json.loads(out.read_text())
    assert spec["info"]["title"] == "Nimbus"


def test_python_dash_m_api_is_the_cli():
    r = subprocess.run(
        [sys.executable, "-m", "api", "--help"], capture_output=True, text=True, check=True
    )
    assert "serve" in r.stdout and "migrate" in r.stdout and "create-admin" in r.stdout


def _nimbus(args: list[str], tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    """The real command in a fresh process, with only the given NIMBUS_ settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NIMBUS_")}
    clean["NIMBUS_DATA_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "-m", "api", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"NIMBUS_ENV": "production", "NIMBUS_SECRET_KEY": "weak-but-secret-value"},
            "error: NIMBUS_SECRET_KEY must be at least 32 characters outside dev",
        ),
        (
            {"NIMBUS_ENV": "production"},
            "error: NIMBUS_SECRET_KEY must be set to a long random value outside dev",
        ),
        (
            {"NIMBUS_PORT": "weak-but-secret-value"},
            "error: NIMBUS_PORT: Input should be a valid integer",
        ),
    ],
)
def test_invalid_settings_are_one_clear_line_not_a_traceback(tmp_path, env, expected):
    r = _nimbus(["serve"], tmp_path, **env)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [r.stderr.strip()]  # one line
    assert r.stderr.startswith(expected)
    assert "Traceback" not in r.stderr + r.stdout
    assert "weak-but-secret-value" not in r.stderr + r.stdout  # never echo a value
    assert not (tmp_path / "nimbus.db").exists()  # stopped before doing anything


def test_seed_demo_on_a_fresh_data_directory_migrates_first(tmp_path):
    r = _nimbus(["seed-demo", "--bugs", "3"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "seeded 3 projects and 3 bugs" in r.stdout
    assert "no such table" not in r.stderr + r.stdout
    again = _nimbus(["seed-demo", "--bugs", "1"], tmp_path)  # migrated already: only refused
    assert again.returncode == 1
    assert "empty instance" in again.stderr
