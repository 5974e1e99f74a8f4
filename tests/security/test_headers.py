"""Finding 7 of issue 18: the SPA, the API and `/docs` sent no security headers. Every kind of
response now carries them, with a strict Content-Security-Policy (no inline script anywhere,
`/docs` included: its Swagger UI is served from here and started by a script of ours)."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from api.main import create_app
from tests.conftest import auth_headers

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cross-origin-opener-policy": "same-origin",
}
STRICT = (
    "default-src 'self'",
    "script-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
)


def assert_protected(response: httpx.Response, *, csp: str | None = None) -> None:
    headers = response.headers
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, (response.url, name, headers.get(name))
    for feature in ("camera=()", "microphone=()", "geolocation=()"):
        assert feature in headers.get("permissions-policy", ""), response.url
    policy = headers.get("content-security-policy", "")
    if csp is not None:
        assert policy == csp, (response.url, policy)
        return
    for directive in STRICT:
        assert directive in policy, (response.url, directive, policy)
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert "unsafe" not in directives["script-src"], policy  # no inline script, no eval
    assert directives["style-src-attr"] == "'none'", policy  # no style="..." overlays
    assert "unsafe-eval" not in policy, policy
    assert re.search(r"img-src 'self' data: blob:(;|$)", policy), policy  # no remote images
    assert headers.get_list("content-security-policy") == [policy]  # once, not twice


@pytest.fixture
def spa_app(settings, engine, sessionmaker, tmp_path):
    spa = tmp_path / "spa"
    (spa / "assets").mkdir(parents=True)
    (spa / "index.html").write_text('<!doctype html><script type="module" src="/assets/a.js">')
    (spa / "assets" / "a.js").write_text("console.log('nimbus')")
    app = create_app(settings.model_copy(update={"spa_dir": spa, "executor_in_process": False}))
    app.state.engine, app.state.sessionmaker = engine, sessionmaker

    @app.get("/__boom", include_in_schema=False)
    async def boom() -> None:
        raise RuntimeError("a bug")

    app.router.routes.insert(0, app.router.routes.pop())  # before the SPA's catch-all mount
    return app


@pytest.fixture
async def client(spa_app):
    transport = httpx.ASGITransport(app=spa_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.mark.parametrize(
    "path",
    [
        "/",  # the SPA's index
        "/bugs/WEB-1",  # a deep link, answered with the index
        "/assets/a.js",  # a static asset
        "/assets/missing.js",  # a 404 from the static files
        "/healthz",  # API JSON
        "/api/v1/users/me",  # a problem+json 401
        "/api/v1/no-such-route",  # the 404 of an unknown route
        "/__boom",  # a 500, rendered outside the app's own middleware
        "/openapi.json",
        "/metrics",
    ],
)
async def test_every_kind_of_response_carries_the_headers(client, path):
    r = await client.get(path)
    assert_protected(r)


async def test_a_500_carries_the_headers_and_still_no_traceback(client):
    r = await client.get("/__boom")
    assert r.status_code == 500 and "RuntimeError" not in r.text
    assert_protected(r)


async def test_head_and_a_405_carry_the_headers(client):
    for r in (
        await client.head("/"),
        await client.head("/healthz"),
        await client.delete("/healthz"),
    ):
        assert_protected(r)


async def test_a_413_refused_before_the_body_is_read_carries_the_headers(client, settings):
    r = await client.post(
        "/api/v1/auth/register",
        content=b"x",
        headers={"Content-Length": str(settings.json_body_max_bytes + 1)},
    )
    assert r.status_code == 413
    assert_protected(r)


async def test_the_event_stream_carries_the_headers(client, developer, serve, spa_app):
    r = await client.post(
        "/api/v1/jobs", json={"source": "print(1)"}, headers=auth_headers(developer)
    )
    job = r.json()["id"]
    await client.post(f"/api/v1/jobs/{job}/cancel", headers=auth_headers(developer))
    base = await serve(spa_app)  # real sockets: the stream is sent as it is written
    async with (
        httpx.AsyncClient(base_url=base, timeout=20) as live,
        live.stream("GET", f"/api/v1/jobs/{job}/events", headers=auth_headers(developer)) as r,
    ):
        assert r.headers["content-type"].startswith("text/event-stream")
        assert_protected(r)
        assert "cancelled" in (await r.aread()).decode()


async def test_a_file_download_carries_the_headers_and_keeps_its_own_sandbox(client, admin, db):
    """Job files go out with `Content-Security-Policy: sandbox`; that one is kept."""
    from api.models import Job, JobFile, JobStatus

    job = Job(
        id=uuid.uuid4(),
        owner_id=admin.id,
        status=JobStatus.succeeded,
        runtime="python",
        entrypoint="main.py",
        args=[],
        limits={"wall_time_s": 1.0, "memory_mb": 64, "output_bytes": 100},
        input_files={},
    )
    db.add(job)
    db.add(JobFile(job_id=job.id, path="out.html", size=4, sha256="0" * 64, content=b"<b>x"))
    await db.commit()
    r = await client.get(f"/api/v1/jobs/{job.id}/files/out.html", headers=auth_headers(admin))
    assert r.status_code == 200, r.text
    assert r.headers["content-security-policy"] == "sandbox"
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value


async def test_the_docs_run_no_inline_script_and_load_nothing_from_elsewhere(client):
    r = await client.get("/docs")
    assert r.status_code == 200
    policy = r.headers["content-security-policy"]
    assert_protected(r, csp=policy)
    for directive in STRICT:
        assert directive in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", r.text, re.DOTALL)
    assert scripts and all('src="/' in attrs and not body.strip() for attrs, body in scripts)
    assert "http://" not in r.text and "https://" not in r.text  # no CDN
    for url in re.findall(r'(?:src|href)="(/[^"]+)"', r.text):
        asset = await client.get(url)
        assert asset.status_code == 200, url
    assert (await client.get("/redoc")).status_code in (200, 404)  # the SPA's index, or none


async def test_hsts_is_sent_over_https_only(client, settings, engine, sessionmaker):
    assert "strict-transport-security" not in (await client.get("/healthz")).headers
    transport = httpx.ASGITransport(app=client._transport.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as https:
        r = await https.get("/healthz")  # the scheme a trusted proxy reported
    assert r.headers["strict-transport-security"].startswith("max-age=31536000")
    app = create_app(settings.model_copy(update={"public_url": "https://nimbus.example.com"}))
    app.state.engine, app.state.sessionmaker = engine, sessionmaker
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as behind_tls:
        r = await behind_tls.get("/")
    assert r.headers["strict-transport-security"].startswith("max-age=31536000")


def test_nginx_sends_the_same_headers_with_the_spa_it_serves():
    """In the compose stack nginx serves the SPA itself: its locations repeat the headers (an
    `add_header` in a location hides the server's, so each location has them all)."""
    from pathlib import Path

    from api.middleware import _SECURITY_HEADERS, APP_CSP

    conf = (Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf").read_text()
    for location in ("location /assets/ {", "location / {"):
        block = conf.split(location, 1)[1].split("\n    }", 1)[0]
        assert f'add_header Content-Security-Policy "{APP_CSP.decode()}" always;' in block
        for name, value in _SECURITY_HEADERS:
            assert f'"{value.decode()}" always;' in block, (location, name)
