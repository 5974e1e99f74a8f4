"""Concurrent edits over real connections (no rollback): with the same ETag exactly one wins;
without If-Match every edit lands, one after the other."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import delete

from api.db import create_sessionmaker
from api.main import create_app
from api.models import Project, User


async def test_concurrent_edits_with_the_same_etag_exactly_one_wins(settings, engine):
    app = create_app(settings)
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
        admin = await _register(c, "race-admin@example.com")
        try:
            h = {"Authorization": f"Bearer {admin['token']}"}
            await c.post("/projects", json={"key": "RACE", "name": "Race"}, headers=h)
            bug = (await c.post("/projects/RACE/bugs", json={"title": "t"}, headers=h)).json()
            etag = {"If-Match": f'"{bug["version"]}"'}
            results = await asyncio.gather(
                *(
                    c.patch(
                        f"/bugs/{bug['id']}", json={"title": f"edit {i}"}, headers={**h, **etag}
                    )
                    for i in range(2)
                )
            )
            statuses = sorted(r.status_code for r in results)
            assert statuses == [200, 412], [r.text for r in results]
            final = (await c.get(f"/bugs/{bug['id']}", headers=h)).json()
            winner = next(r for r in results if r.status_code == 200).json()
            assert final["title"] == winner["title"]
            assert final["version"] == bug["version"] + 1
        finally:
            async with app.state.sessionmaker() as s:
                await s.execute(delete(Project).where(Project.key == "RACE"))
                await s.execute(delete(User).where(User.email == "race-admin@example.com"))
                await s.commit()


async def test_concurrent_edits_without_if_match_all_land(settings, engine):
    """Writers of one bug queue on its row lock: none gets a 412 it never asked for, and
    parallel add_labels all stick (each edit reads the labels as the previous one left them)."""
    app = create_app(settings)
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
        admin = await _register(c, "race2-admin@example.com")
        try:
            h = {"Authorization": f"Bearer {admin['token']}"}
            await c.post("/projects", json={"key": "RACE2", "name": "Race"}, headers=h)
            bug = (await c.post("/projects/RACE2/bugs", json={"title": "t"}, headers=h)).json()
            edits = [{"add_labels": [f"l{i}"]} for i in range(6)] + [{"title": "renamed"}]
            results = await asyncio.gather(
                *(c.patch(f"/bugs/{bug['id']}", json=edit, headers=h) for edit in edits)
            )
            assert [r.status_code for r in results] == [200] * len(edits), [r.text for r in results]
            final = (await c.get(f"/bugs/{bug['id']}", headers=h)).json()
            assert final["labels"] == [f"l{i}" for i in range(6)]
            assert final["title"] == "renamed"
            assert final["version"] == bug["version"] + len(edits)
        finally:
            async with app.state.sessionmaker() as s:
                await s.execute(delete(Project).where(Project.key == "RACE2"))
                await s.execute(delete(User).where(User.email == "race2-admin@example.com"))
                await s.commit()


async def test_edits_racing_a_delete_are_404_not_500(settings, engine):
    """Writers queued behind a delete find the row gone when the lock is theirs."""
    app = create_app(settings)
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
        admin = await _register(c, "race3-admin@example.com")
        try:
            h = {"Authorization": f"Bearer {admin['token']}"}
            await c.post("/projects", json={"key": "RACE3", "name": "Race"}, headers=h)
            bug = (await c.post("/projects/RACE3/bugs", json={"title": "t"}, headers=h)).json()
            url = f"/bugs/{bug['id']}"
            results = await asyncio.gather(
                c.delete(url, headers=h),
                *(c.patch(url, json={"title": f"edit {i}"}, headers=h) for i in range(4)),
            )
            assert results[0].status_code == 204
            assert {r.status_code for r in results[1:]} <= {200, 404}, [r.text for r in results]
            assert (await c.get(url, headers=h)).status_code == 404
        finally:
            async with app.state.sessionmaker() as s:
                await s.execute(delete(Project).where(Project.key == "RACE3"))
                await s.execute(delete(User).where(User.email == "race3-admin@example.com"))
                await s.commit()


async def _register(c: httpx.AsyncClient, email: str) -> dict:
    user = (
        await c.post(
            "/auth/register", json={"email": email, "password": "long-enough", "full_name": "R"}
        )
    ).json()
    token = (
        await c.post("/auth/token", data={"username": email, "password": "long-enough"})
    ).json()
    return {**user, "token": token["access_token"]}
