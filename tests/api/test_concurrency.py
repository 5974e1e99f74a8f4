"""Concurrent edits over real connections (no rollback): with the same ETag exactly one wins;
without If-Match every edit lands, one after the other; edits queued behind a delete are 404;
two admins demoting each other leave one admin; an admin demoted while waiting
is refused."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from api import migrations
from api.auth import repository as auth_repository
from api.bugs import repository as bugs_repository
from api.concurrency import flush_new
from api.db import create_engine, create_sessionmaker
from api.errors import Forbidden
from api.expenses import repository as expenses_repository
from api.main import create_app
from api.models import ExpenseCategory, Project, Role, User
from api.projects import repository as projects_repository
from api.projects import service as projects_service
from api.security import hash_password
from api.users import repository as users_repository
from api.users import service as users_service
from api.users.exceptions import CurrentPasswordRequired, LastAdmin
from api.users.schemas import MeUpdate, UserUpdate


@dataclass
class Race:
    client: httpx.AsyncClient
    headers: dict[str, str]  # an admin's
    bug: dict[str, Any]

    @property
    def url(self) -> str:
        return f"/bugs/{self.bug['id']}"


def in_step(monkeypatch, module: object, name: str) -> None:
    """Make ``module.name`` (a coroutine function) wait up to 0.5 s for a second caller before
    it runs: two racing requests both pass it before either goes on, as unlucky timing would."""
    original = getattr(module, name)
    both_here = asyncio.Barrier(2)

    async def when_both_are_here(*args: Any, **kwargs: Any) -> Any:
        with contextlib.suppress(TimeoutError, asyncio.BrokenBarrierError):
            async with asyncio.timeout(0.5):  # alone (the other waits on a lock): go on
                await both_here.wait()
        return await original(*args, **kwargs)

    monkeypatch.setattr(module, name, when_both_are_here)


@contextlib.asynccontextmanager
async def real_client(settings, engine) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app on its own connections: what it commits stays (clean up after)."""
    app = create_app(settings)
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
        yield c


@contextlib.asynccontextmanager
async def race(settings, engine, key: str) -> AsyncIterator[Race]:
    """An app on its own connections, an admin and one bug in project ``key``; removed after."""
    email = f"{key.lower()}-admin@example.com"
    async with real_client(settings, engine) as c:
        try:
            h = {"Authorization": f"Bearer {await _register(c, email)}"}
            await c.post("/projects", json={"key": key, "name": "Race"}, headers=h)
            bug = (await c.post(f"/projects/{key}/bugs", json={"title": "t"}, headers=h)).json()
            yield Race(c, h, bug)
        finally:
            async with create_sessionmaker(engine)() as s:
                await s.execute(delete(Project).where(Project.key == key))
                await s.execute(delete(User).where(User.email == email))
                await s.commit()


async def test_the_first_users_registering_at_once_make_one_admin(settings, engine, monkeypatch):
    emails = ["first0@example.com", "first1@example.com"]
    async with create_sessionmaker(engine)() as s:
        assert not await auth_repository.any_user(s), "this test needs a database without users"
    in_step(monkeypatch, auth_repository, "any_user")  # both see nobody registered yet
    async with real_client(settings, engine) as c:
        try:
            results = await asyncio.gather(*(_register_only(c, email) for email in emails))
            assert [r.status_code for r in results] == [201] * 2, [r.text for r in results]
            assert sorted(r.json()["role"] for r in results) == ["admin", "tester"]
        finally:
            async with create_sessionmaker(engine)() as s:
                await s.execute(delete(User).where(col(User.email).in_(emails)))
                await s.commit()


async def test_one_email_registering_twice_at_once_is_201_and_409(settings, engine, monkeypatch):
    async with race(settings, engine, "RACE6") as r:  # an admin exists: nobody else becomes one
        in_step(monkeypatch, auth_repository, "user_by_email")  # both see the email free
        email = "twice@example.com"
        try:
            results = await asyncio.gather(*(_register_only(r.client, email) for _ in range(2)))
            assert sorted(x.status_code for x in results) == [201, 409], [x.text for x in results]
            assert [x.json()["code"] for x in results if x.status_code == 409] == ["email_taken"]
        finally:
            async with create_sessionmaker(engine)() as s:
                await s.execute(delete(User).where(User.email == email))
                await s.commit()


async def test_concurrent_edits_with_the_same_etag_exactly_one_wins(settings, engine):
    async with race(settings, engine, "RACE") as r:
        etag = {"If-Match": f'"{r.bug["version"]}"'}
        results = await asyncio.gather(
            *(
                r.client.patch(r.url, json={"title": f"edit {i}"}, headers={**r.headers, **etag})
                for i in range(2)
            )
        )
        statuses = sorted(x.status_code for x in results)
        assert statuses == [200, 412], [x.text for x in results]
        final = (await r.client.get(r.url, headers=r.headers)).json()
        winner = next(x for x in results if x.status_code == 200).json()
        assert final["title"] == winner["title"]
        assert final["version"] == r.bug["version"] + 1


async def test_concurrent_edits_without_if_match_all_land(settings, engine):
    """Writers of one bug queue on its row lock: none gets a 412 it never asked for, and
    parallel add_labels all stick (each edit reads the labels as the previous one left them)."""
    async with race(settings, engine, "RACE2") as r:
        edits = [{"add_labels": [f"l{i}"]} for i in range(6)] + [{"title": "renamed"}]
        results = await asyncio.gather(
            *(r.client.patch(r.url, json=edit, headers=r.headers) for edit in edits)
        )
        assert [x.status_code for x in results] == [200] * len(edits), [x.text for x in results]
        final = (await r.client.get(r.url, headers=r.headers)).json()
        assert final["labels"] == [f"l{i}" for i in range(6)]
        assert final["title"] == "renamed"
        assert final["version"] == r.bug["version"] + len(edits)


async def test_edits_racing_a_delete_are_404_not_500(settings, engine):
    """Writers queued behind a delete find the row gone when the lock is theirs."""
    async with race(settings, engine, "RACE3") as r:
        results = await asyncio.gather(
            r.client.delete(r.url, headers=r.headers),
            *(r.client.patch(r.url, json={"title": f"e{i}"}, headers=r.headers) for i in range(4)),
        )
        assert results[0].status_code == 204
        assert {x.status_code for x in results[1:]} <= {200, 404}, [x.text for x in results]
        assert (await r.client.get(r.url, headers=r.headers)).status_code == 404


async def test_two_admins_demoting_each_other_leave_one_admin(settings, engine, monkeypatch):
    """Each locked only the other's row and counted two admins: both won and none was left.
    Called below the HTTP layer, so that both are signed in as admins when they start; the
    count waits (up to 0.5 s) for the other demotion to count too, as unlucky timing would."""
    count = users_repository.count_active_admins
    in_step(monkeypatch, users_repository, "count_active_admins")
    async with race(settings, engine, "RACE4") as r, _admins(r, engine, 2) as (me1, me2):
        outcome = await asyncio.gather(
            _demote(engine, me1["id"], me2["id"]), _demote(engine, me2["id"], me1["id"])
        )
        assert sorted(outcome) == ["demoted", "forbidden"]  # the loser is no admin by then
        async with create_sessionmaker(engine)() as s:
            assert await count(s) == 1


async def test_an_admin_demoted_while_waiting_cannot_demote_another(settings, engine):
    """B demotes A while A's demotion of C waits for the lock: A is no admin when it runs."""
    async with race(settings, engine, "RACE5") as r, _admins(r, engine, 3) as (a, b, c):
        async with create_sessionmaker(engine)() as s:
            actor = await s.get(User, b["id"])
            await users_service.update_user(s, actor, a["id"], UserUpdate(role=Role.tester), None)
            waiting = asyncio.create_task(_demote(engine, a["id"], c["id"]))
            await asyncio.sleep(0.3)  # A loads itself as an admin and queues on the lock
            await s.commit()
        assert await waiting == "forbidden"
        async with create_sessionmaker(engine)() as s:
            assert (await s.get(User, c["id"])).role == Role.admin


@contextlib.asynccontextmanager
async def _admins(r: Race, engine, n: int) -> AsyncIterator[list[dict[str, Any]]]:
    """The race's admin and ``n - 1`` more (removed after), as `/users/me` shows them."""
    emails = [f"{r.bug['project_key'].lower()}-admin{i}@example.com" for i in range(1, n)]
    try:
        admins = [(await r.client.get("/users/me", headers=r.headers)).json()]
        for email in emails:
            token = await _register(r.client, email)
            me = await r.client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
            promote = await r.client.patch(
                f"/users/{me.json()['id']}", json={"role": "admin"}, headers=r.headers
            )
            assert promote.status_code == 200, promote.text
            admins.append(promote.json())
        yield admins
    finally:
        async with create_sessionmaker(engine)() as s:
            await s.execute(delete(User).where(col(User.email).in_(emails)))
            await s.commit()


async def _demote(engine, actor_id: int, target_id: int) -> str:
    async with create_sessionmaker(engine)() as s:
        actor = await s.get(User, actor_id)
        try:
            await users_service.update_user(s, actor, target_id, UserUpdate(role=Role.tester), None)
            await s.commit()
            return "demoted"
        except LastAdmin:
            return "refused"
        except Forbidden:
            return "forbidden"


async def test_creating_one_project_key_twice_at_once_is_201_and_409(settings, engine, monkeypatch):
    """Both see the key free, then both insert it: the loser gets the usual 409, never a 500."""
    async with race(settings, engine, "RACE7") as r:
        in_step(monkeypatch, projects_repository, "key_exists")
        body = {"key": "TWICE", "name": "Twice"}
        try:
            results = await asyncio.gather(
                *(r.client.post("/projects", json=body, headers=r.headers) for _ in range(2))
            )
            assert sorted(x.status_code for x in results) == [201, 409], [x.text for x in results]
            lost = [x for x in results if x.status_code == 409]
            assert lost[0].json()["code"] == "project_key_taken"
            assert lost[0].headers["content-type"] == "application/problem+json"
        finally:
            async with create_sessionmaker(engine)() as s:
                await s.execute(delete(Project).where(Project.key == "TWICE"))
                await s.commit()


async def test_one_top_level_category_added_twice_at_once_is_201_and_409(
    settings, engine, monkeypatch
):
    """Top-level names had no database constraint at all (parent_id NULL): both were added."""
    async with race(settings, engine, "RACE9") as r:
        in_step(monkeypatch, expenses_repository, "category_name_taken")
        body = {"name": "Conferences"}
        try:
            results = await asyncio.gather(
                *(r.client.post("/expense-categories", json=body, headers=r.headers) for _ in "ab")
            )
            assert sorted(x.status_code for x in results) == [201, 409], [x.text for x in results]
            lost = [x.json()["code"] for x in results if x.status_code == 409]
            assert lost == ["category_name_taken"]
        finally:
            async with create_sessionmaker(engine)() as s:
                conferences = ExpenseCategory.name == "Conferences"
                await s.execute(delete(ExpenseCategory).where(conferences))
                await s.commit()


async def test_idempotent_puts_at_once_both_succeed(settings, engine, monkeypatch):
    """Adding one member, or watching one bug, twice at the same moment: both say done."""
    async with race(settings, engine, "RACE8") as r, _admins(r, engine, 2) as (_, other):
        in_step(monkeypatch, projects_service, "get_user")
        member = f"/projects/RACE8/members/{other['id']}"
        added = await asyncio.gather(*(r.client.put(member, headers=r.headers) for _ in range(2)))
        assert sorted(x.status_code for x in added) == [200, 201], [x.text for x in added]
        in_step(monkeypatch, bugs_repository, "watch")
        watch = f"{r.url}/watchers/me"
        token = {"Authorization": f"Bearer {await _sign_in(r.client, other['email'])}"}
        watched = await asyncio.gather(*(r.client.put(watch, headers=token) for _ in range(2)))
        assert [x.status_code for x in watched] == [204, 204], [x.text for x in watched]


async def _register_only(c: httpx.AsyncClient, email: str) -> httpx.Response:
    body = {"email": email, "password": "long-enough", "full_name": "R"}
    return await c.post("/auth/register", json=body)


async def _sign_in(c: httpx.AsyncClient, email: str) -> str:
    token = await c.post("/auth/token", data={"username": email, "password": "long-enough"})
    return token.json()["access_token"]


async def _register(c: httpx.AsyncClient, email: str) -> str:
    """Register ``email`` and sign in: the access token."""
    await _register_only(c, email)
    return await _sign_in(c, email)


async def test_an_insert_that_wins_its_race_is_undone_with_the_request_on_sqlite(tmp_path):
    """pysqlite begins a transaction only before a write, and a SAVEPOINT outside one is a
    transaction of its own: released, it committed, whatever the request did after."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'race.db'}"
    await asyncio.to_thread(migrations.upgrade, url)
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            assert await flush_new(session, Project(key="KEPT", name="Kept?"))
            await session.rollback()  # the request failed after the insert
        async with create_sessionmaker(engine)() as session:
            assert (await session.scalars(select(Project))).all() == []
    finally:
        await engine.dispose()


async def test_a_pending_change_that_breaks_a_unique_key_is_an_error_not_a_lost_race(
    settings, engine
):
    """Only ``rows`` are inserted in the savepoint: a pending change made before is flushed
    outside it, and its violation is the caller's bug (raised), not "someone else was first"."""
    async with create_sessionmaker(engine)() as session:
        first, second = Project(key="ONE", name="One"), Project(key="TWO", name="Two")
        session.add_all([first, second])
        await session.flush()
        second.key = "ONE"  # pending: breaks the unique key
        with pytest.raises(IntegrityError):
            await flush_new(session, Project(key="THREE", name="Three"))
        await session.rollback()


async def test_an_email_changed_by_an_admin_meanwhile_is_not_changed_back_without_password(
    settings, engine
):
    """The user's PATCH re-sends the email they loaded; an admin changes it before the PATCH
    takes the row lock. Putting the old one back is a change of email: it needs the password
    (and with the right one given, it goes through)."""
    async with create_sessionmaker(engine)() as session:
        hashed = await hash_password("long-enough")
        user = User(email="was@example.com", full_name="W", password_hash=hashed, role=Role.tester)
        session.add(user)
        await session.commit()
        user_id = user.id

    async def patch_racing_an_admin(data: MeUpdate, admin_sets: str) -> User:
        async with create_sessionmaker(engine)() as session:
            stale = await session.get(User, user_id)  # the request authenticated the user
            async with create_sessionmaker(engine)() as admin_session:
                moved = await admin_session.get(User, user_id)
                moved.email = admin_sets
                await admin_session.commit()
            updated = await users_service.update_me(session, settings, stale, data, None)
            await session.commit()
            return updated.user

    try:
        with pytest.raises(CurrentPasswordRequired):
            await patch_racing_an_admin(MeUpdate(email="was@example.com"), "now@example.com")
        with_password = MeUpdate(email="now@example.com", current_password="long-enough")
        back = await patch_racing_an_admin(with_password, "again@example.com")
        assert back.email == "now@example.com"
    finally:
        async with create_sessionmaker(engine)() as session:
            await session.execute(delete(User).where(col(User.id) == user_id))
            await session.commit()
