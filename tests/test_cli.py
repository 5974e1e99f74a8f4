"""The `nimbus` command."""

from __future__ import annotations

import json
import subprocess
import sys

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
