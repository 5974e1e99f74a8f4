"""The embedded default (SQLite file, migrated by Alembic) runs the same main flows."""

from __future__ import annotations

import asyncio
import base64

import httpx

from api import migrations
from api.config import Settings
from api.main import create_app


def test_main_flows_on_sqlite(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        spa_dir=tmp_path / "no-spa",
        executor_backend="off",
        executor_in_process=False,  # jobs queue for a worker elsewhere
        job_max_active_per_user=3,
    )
    migrations.upgrade(settings.effective_database_url)
    asyncio.run(_flows(settings))


async def _flows(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
            admin = await c.post(
                "/auth/register",
                json={"email": "a@example.com", "password": "long-enough", "full_name": "Ann"},
            )
            assert admin.json()["role"] == "admin"
            dev = await c.post(
                "/auth/register",
                json={"email": "d@example.com", "password": "long-enough", "full_name": "Dev"},
            )
            pair = (
                await c.post(
                    "/auth/token", data={"username": "a@example.com", "password": "long-enough"}
                )
            ).json()
            h = {"Authorization": f"Bearer {pair['access_token']}"}
            project = await c.post("/projects", json={"key": "WEB", "name": "Web"}, headers=h)
            assert project.status_code == 201
            pid = project.json()["id"]
            r = await c.put(f"/projects/{pid}/members/{dev.json()['id']}", headers=h)
            assert r.status_code == 201
            r = await c.patch(
                f"/projects/{pid}", json={"name": "Web 2"}, headers={**h, "If-Match": '"1"'}
            )
            assert r.json()["version"] == 2
            r = await c.patch(
                f"/projects/{pid}", json={"name": "Lost"}, headers={**h, "If-Match": '"1"'}
            )
            assert r.status_code == 412
            await _bug_lists(c, h)
            await _concurrent_edits(c, h)
            await _concurrent_submissions(c, h)
            await _concurrent_creations(c, h)
            await _out_of_range_input(c, h)
            pat = (await c.post("/users/me/tokens", json={"name": "cli"}, headers=h)).json()[
                "token"
            ]
            me = await c.get("/users/me", headers={"Authorization": f"Bearer {pat}"})
            assert me.json()["email"] == "a@example.com"
            refreshed = await c.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
            assert refreshed.status_code == 200
            reuse = await c.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
            assert reuse.json()["code"] == "refresh_token_reused"
            users = await c.get("/users", params={"limit": 1}, headers=h)
            assert users.json()["next_cursor"]
            for _ in range(settings.login_max_failures):
                await c.post("/auth/token", data={"username": "d@example.com", "password": "nope"})
            limited = await c.post(
                "/auth/token", data={"username": "d@example.com", "password": "nope"}
            )
            assert limited.status_code == 429
        ready = await httpx.AsyncClient(transport=transport, base_url="http://t").get("/readyz")
        assert ready.json()["checks"]["database"] == "ok"


async def _bug_lists(c: httpx.AsyncClient, h: dict[str, str]) -> None:
    """Filters, search (LIKE per word, its wildcards escaped) and pages on SQLite."""
    titles = [
        "50% off_sale crashes",
        "500 off sale",
        "Login fails",
        "Crash in login",
        "Error - retry",
    ]
    for i, title in enumerate(titles):
        bug = {"title": title, "priority": "high" if i % 2 else "low", "labels": ["ui"] * (i % 2)}
        assert (await c.post("/projects/WEB/bugs", json=bug, headers=h)).status_code == 201

    async def titles_of(**params: object) -> list[str]:
        r = await c.get("/bugs", params={"sort": "created_at", **params}, headers=h)
        assert r.status_code == 200, r.text
        return [b["title"] for b in r.json()["items"]]

    assert await titles_of(q="50%") == ["50% off_sale crashes"]
    assert await titles_of(q="off_s") == ["50% off_sale crashes"]
    assert await titles_of(q="CRASH") == ["50% off_sale crashes", "Crash in login"]
    # Words, "phrases" and -exclusions, as PostgreSQL's websearch_to_tsquery reads them.
    assert await titles_of(q="login crash") == ["Crash in login"]  # every word, any order
    assert await titles_of(q='"in login"') == ["Crash in login"]
    assert await titles_of(q='"login crash"') == []
    assert await titles_of(q="crash -login") == ["50% off_sale crashes"]
    assert await titles_of(q="sale or") == ["50% off_sale crashes", "500 off sale"]
    # Nothing to look for matches nothing (not "Error - retry" as a substring, not every bug).
    for nothing in ("or", "-", "- ... or", '""', "_"):
        assert await titles_of(q=nothing) == [], nothing
    assert await titles_of(q="retry -") == ["Error - retry"]
    assert await titles_of(q="crash " * 20 + "login") == ["Crash in login"]  # 16 terms, once each
    assert await titles_of(priority="high", label="ui") == ["500 off sale", "Crash in login"]
    page = {"limit": 3, "sort": "-created_at"}
    first = await c.get("/projects/WEB/bugs", params=page, headers=h)
    cursor = first.json()["next_cursor"]
    rest = await c.get("/projects/WEB/bugs", params={**page, "cursor": cursor}, headers=h)
    assert [b["title"] for b in first.json()["items"] + rest.json()["items"]] == titles[::-1]


async def _concurrent_creations(c: httpx.AsyncClient, h: dict[str, str]) -> None:
    """Two requests taking one key at once: 201 and 409, never a 500."""
    body = {"key": "TWICE", "name": "Twice"}
    results = await asyncio.gather(*(c.post("/projects", json=body, headers=h) for _ in range(2)))
    assert sorted(r.status_code for r in results) == [201, 409], [r.text for r in results]
    assert [r.json()["code"] for r in results if r.status_code == 409] == ["project_key_taken"]


async def _concurrent_submissions(c: httpx.AsyncClient, h: dict[str, str]) -> None:
    """The per-user cap holds when submissions race (each counted the others' before they saved)."""
    job = {"source": "print(1)"}
    results = await asyncio.gather(*(c.post("/jobs", json=job, headers=h) for _ in range(6)))
    assert sorted(r.status_code for r in results) == [202] * 3 + [429] * 3
    assert len((await c.get("/jobs", headers=h)).json()["items"]) == 3


async def _concurrent_edits(c: httpx.AsyncClient, h: dict[str, str]) -> None:
    """SQLite has no row locks; writers still queue instead of failing each other with 412."""
    bug = (await c.post("/projects/WEB/bugs", json={"title": "race"}, headers=h)).json()
    edits = [{"add_labels": [f"l{i}"]} for i in range(4)]
    results = await asyncio.gather(
        *(c.patch(f"/bugs/{bug['id']}", json=edit, headers=h) for edit in edits)
    )
    assert [r.status_code for r in results] == [200] * 4, [r.text for r in results]
    final = (await c.get(f"/bugs/{bug['id']}", headers=h)).json()
    assert (final["labels"], final["version"]) == (["l0", "l1", "l2", "l3"], bug["version"] + 4)


async def _out_of_range_input(c: httpx.AsyncClient, h: dict[str, str]) -> None:
    """What SQLite's driver refuses before any SQL runs is a 4xx, as on PostgreSQL."""
    beyond = 2**63
    for method, path in (("GET", f"/bugs/{beyond}"), ("DELETE", f"/comments/{beyond}")):
        r = await c.request(method, path, headers=h)
        assert r.status_code == 422 and r.json()["errors"][0]["type"] == "value_out_of_range"
    r = await c.get("/bugs", params={"assignee_id": str(beyond)}, headers=h)
    assert r.status_code == 422, r.text
    edited = base64.urlsafe_b64encode(f"[4,{beyond}]".encode()).decode()
    r = await c.get("/bugs", params={"sort": "-priority", "cursor": edited}, headers=h)
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"
    r = await c.get("/bugs", params={"created_after": "2026-12-05"}, headers=h)
    assert r.status_code == 200, r.text
