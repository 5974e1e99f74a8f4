"""Finding 20 of issue 18: `/metrics` and the web app's source maps were public to anyone who
reached `nimbus serve` directly. Metrics now want `NIMBUS_METRICS_TOKEN` as a Bearer token, or,
without one, a client on this host that no proxy forwarded; no source map is built or served."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import yaml

from api.main import create_app
from tests.test_deploy import SECRETS, run_config

ROOT = Path(__file__).resolve().parents[2]
REMOTE = ("203.0.113.7", 40000)  # what a client elsewhere looks like to the app


def client_from(app, address=REMOTE) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=address, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://nimbus.example")


@pytest.fixture
def token_app(settings, engine, sessionmaker):
    app = create_app(settings.model_copy(update={"metrics_token": "s3cret-metrics-token"}))
    app.state.engine, app.state.sessionmaker = engine, sessionmaker
    return app


async def test_metrics_are_refused_to_a_remote_client_without_a_token_configured(app):
    async with client_from(app) as client:
        r = await client.get("/metrics")
    assert r.status_code == 403, r.text[:300]
    assert r.json()["code"] == "metrics_not_public"
    assert "http_requests_total" not in r.text


async def test_metrics_answer_a_client_on_this_host(app, serve):
    base = await serve(app)
    async with httpx.AsyncClient(base_url=base) as client:
        r = await client.get("/metrics")
    assert r.status_code == 200
    assert "http_requests_total" in r.text or "nimbus_" in r.text


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP"])
async def test_metrics_are_refused_through_a_proxy_on_this_host(app, serve, header):
    """A proxy here makes every visitor's connection come from 127.0.0.1."""
    base = await serve(app)
    value = "for=198.51.100.1" if header == "Forwarded" else "198.51.100.1"
    async with httpx.AsyncClient(base_url=base) as client:
        r = await client.get("/metrics", headers={header: value})
    assert (r.status_code, r.json()["code"]) == (403, "metrics_not_public")


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", "Basic czNjcmV0LW1ldHJpY3MtdG9rZW4=", "s3cret-metrics-token"],
)
async def test_with_a_token_configured_metrics_want_it_from_everyone(token_app, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    for address in (REMOTE, ("127.0.0.1", 40000)):
        async with client_from(token_app, address) as client:
            r = await client.get("/metrics", headers=headers)
        assert r.status_code == 401, (address, r.text[:300])
        assert r.json()["code"] == "invalid_token"
        assert r.headers["WWW-Authenticate"] == "Bearer"


async def test_with_a_token_configured_metrics_answer_its_bearer_from_anywhere(token_app):
    async with client_from(token_app) as client:
        r = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")


async def test_the_spa_server_never_serves_a_source_map(settings, engine, sessionmaker, tmp_path):
    spa = tmp_path / "spa"
    (spa / "assets").mkdir(parents=True)
    (spa / "index.html").write_text("<!doctype html><title>Nimbus</title>")
    (spa / "assets" / "index-abc.js").write_text("console.log(1)\n//# sourceMappingURL=x.js.map")
    (spa / "assets" / "index-abc.js.map").write_text('{"version":3,"sources":["src/App.tsx"]}')
    app = create_app(settings.model_copy(update={"spa_dir": spa}))
    app.state.engine, app.state.sessionmaker = engine, sessionmaker
    async with client_from(app) as client:
        assert (await client.get("/assets/index-abc.js")).status_code == 200
        r = await client.get("/assets/index-abc.js.map")
        assert r.status_code == 404
        assert "src/App.tsx" not in r.text
        assert (await client.get("/bugs/WEB-1")).status_code == 200  # deep links still work


def test_production_builds_make_no_source_maps():
    config = (ROOT / "frontend" / "vite.config.ts").read_text()
    assert re.search(r"^\s*sourcemap:\s*false,", config, re.MULTILINE), "vite builds source maps"
    assert "sourcemap: true" not in config


def test_the_deployed_prometheus_sends_the_token_the_api_wants():
    result = run_config(SECRETS)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    token = SECRETS["NIMBUS_METRICS_TOKEN"]
    assert services["api"]["environment"]["NIMBUS_METRICS_TOKEN"] == token
    prometheus = services["prometheus"]
    assert prometheus["environment"]["NIMBUS_METRICS_TOKEN"] == token
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    (api_job,) = [job for job in config["scrape_configs"] if job["job_name"] == "nimbus-api"]
    credentials = api_job["authorization"]["credentials_file"]
    assert api_job["authorization"]["type"] == "Bearer"
    # the entrypoint writes the token where the scrape config reads it, then runs prometheus
    script = " ".join(prometheus["command"])
    assert f"> {credentials}" in script and "exec /bin/prometheus" in script
    assert "--config.file=/etc/prometheus/prometheus.yml" in script
