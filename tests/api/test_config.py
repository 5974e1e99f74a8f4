"""Settings: secrets, CORS and the embedded defaults."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from api.config import Settings
from api.main import create_app


def test_production_refuses_a_missing_or_default_secret(tmp_path):
    for secret in ("", "change-me", "short"):
        with pytest.raises(ValidationError, match="NIMBUS_SECRET_KEY"):
            Settings(env="production", secret_key=secret, data_dir=tmp_path)
    Settings(env="production", secret_key="x" * 40, data_dir=tmp_path)


def test_dev_secret_is_generated_once_and_kept(tmp_path):
    first = Settings(data_dir=tmp_path / "a").effective_secret_key
    again = Settings(data_dir=tmp_path / "a").effective_secret_key
    other = Settings(data_dir=tmp_path / "b").effective_secret_key
    assert first == again != other
    assert len(first) >= 32
    assert (tmp_path / "a" / "secret_key").stat().st_mode & 0o077 == 0


def test_embedded_default_is_sqlite_in_data_dir(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert settings.is_sqlite
    assert str(tmp_path.resolve()) in settings.effective_database_url


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("NIMBUS_PORT", "9123")
    monkeypatch.setenv("NIMBUS_REGISTRATION", "closed")
    monkeypatch.setenv("NIMBUS_CORS_ORIGINS", '["https://spa.example.com"]')
    settings = Settings(data_dir=tmp_path)
    assert settings.port == 9123
    assert settings.registration == "closed"
    assert settings.cors_origins == ["https://spa.example.com"]


async def _preflight(settings: Settings) -> httpx.Response:
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        return await c.options(
            "/api/v1/roles",
            headers={"Origin": "https://spa.example.com", "Access-Control-Request-Method": "GET"},
        )


async def test_cors_is_off_by_default_and_on_when_configured(tmp_path):
    off = await _preflight(Settings(data_dir=tmp_path, spa_dir=tmp_path / "none"))
    assert "access-control-allow-origin" not in off.headers
    on = await _preflight(
        Settings(
            data_dir=tmp_path, spa_dir=tmp_path / "none", cors_origins=["https://spa.example.com"]
        )
    )
    assert on.headers["access-control-allow-origin"] == "https://spa.example.com"


def test_blank_optional_settings_mean_unset(monkeypatch):
    """Compose passes `${NIMBUS_SMTP_URL:-}` through as an empty string."""
    from api.config import Settings

    monkeypatch.setenv("NIMBUS_SMTP_URL", "")
    monkeypatch.setenv("NIMBUS_S3_ENDPOINT_URL", " ")
    monkeypatch.setenv("NIMBUS_WORKER_METRICS_PORT", "")
    settings = Settings()
    assert settings.smtp_url is None
    assert settings.s3_endpoint_url is None
    assert settings.worker_metrics_port is None
