"""Finding 14: one user's flood of jobs must not starve everyone else's.

The queue is claimed round robin by owner: the next job is the oldest queued job of the owner
who holds the fewest running slots and, among those, was served least recently. So a victim's
job waits for at most one job of each other active user per slot, not for the whole flood.
Checked at the queue itself on PostgreSQL (``FOR UPDATE SKIP LOCKED``) and SQLite, and end to
end on a real worker and Docker engine.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from api import migrations
from api.db import create_engine, create_sessionmaker, utcnow
from api.jobs import queue, repository
from api.models import Job, JobStatus, Role, User
from tests.conftest import auth_headers
from tests.jobs.fixtures import JOBS, Live

LEASE_S = 30.0


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}"
    migrations.upgrade(url)
    return url


@pytest.fixture
async def sqlite_maker(sqlite_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(sqlite_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def queue_db(request: pytest.FixtureRequest) -> async_sessionmaker[AsyncSession]:
    """Sessions on the queue's database: PostgreSQL (rolled back after) or a SQLite file."""
    name = "sessionmaker" if request.param == "postgresql" else "sqlite_maker"
    maker: async_sessionmaker[AsyncSession] = request.getfixturevalue(name)
    return maker


async def _users(maker: async_sessionmaker[AsyncSession], *names: str) -> dict[str, int]:
    async with maker() as session:
        users = {
            n: User(email=f"{n}-{uuid.uuid4().hex[:6]}@example.com", full_name=n, password_hash="x")
            for n in names
        }
        for user in users.values():
            user.role = Role.tester
        session.add_all(users.values())
        await session.commit()
        return {n: u.id for n, u in users.items() if u.id is not None}


async def _queue(maker: async_sessionmaker[AsyncSession], owners: list[int]) -> list[uuid.UUID]:
    """One queued job per entry of ``owners``, queued one millisecond apart in that order."""
    start = utcnow() - timedelta(minutes=5)
    async with maker() as session:
        jobs = [
            Job(owner_id=owner, queued_at=start + timedelta(milliseconds=i), last_seq=1)
            for i, owner in enumerate(owners)
        ]
        session.add_all(jobs)
        await session.commit()
        return [job.id for job in jobs]


async def _claim(maker: async_sessionmaker[AsyncSession], limit: int) -> list[Job]:
    async with maker() as session:
        jobs = await queue.claim(session, "w1", LEASE_S, limit)
        await session.commit()
        return jobs


async def _finish(maker: async_sessionmaker[AsyncSession], job: Job) -> None:
    async with maker() as session:
        await session.execute(
            update(Job)
            .where(col(Job.id) == job.id)
            .values(status=JobStatus.succeeded, finished_at=utcnow())
        )
        await session.commit()


async def _run_queue(maker: async_sessionmaker[AsyncSession], slots: int, total: int) -> list[int]:
    """Play a worker with ``slots`` slots: fill them, then each time the oldest running job
    ends, claim one more. The owners of the claimed jobs, in claim order."""
    running = await _claim(maker, slots)
    order = [job.owner_id for job in running]
    while len(order) < total:
        await _finish(maker, running.pop(0))
        claimed = await _claim(maker, 1)
        assert claimed, "jobs are still queued but none was claimed"
        running += claimed
        order += [job.owner_id for job in claimed]
    return order


async def test_a_victims_job_is_claimed_after_one_job_of_each_flooding_user(queue_db):
    """Three users queue 12 jobs between them, then the victim one; with two slots the
    victim's job is among the first few claims (first come first served made it the 13th)."""
    maker = queue_db
    ids = await _users(maker, "a", "b", "c", "victim")
    flood = [ids[n] for n in ("a", "b", "c") for _ in range(4)]
    await _queue(maker, [*flood, ids["victim"]])

    order = await _run_queue(maker, slots=2, total=13)

    # two slots, three other active users: at most one job of each of them, plus the slot
    # that was already taken, comes before the victim's
    assert order.index(ids["victim"]) <= 4, order
    assert order[:3] == [ids["a"], ids["b"], ids["c"]], "one job per owner before seconds"


async def test_one_slot_serves_owners_in_turn(queue_db):
    """Jobs queued a's first, then b's, then c's are run a, b, c, a, b, c, ..."""
    maker = queue_db
    ids = await _users(maker, "a", "b", "c")
    await _queue(maker, [ids[n] for n in ("a", "b", "c") for _ in range(3)])

    order = await _run_queue(maker, slots=1, total=9)

    assert order == [ids["a"], ids["b"], ids["c"]] * 3


async def test_one_claim_of_several_slots_takes_one_job_per_owner_first(queue_db):
    maker = queue_db
    ids = await _users(maker, "a", "b", "c")
    await _queue(maker, [ids["a"]] * 5 + [ids["b"]] * 2 + [ids["c"]])

    claimed = await _claim(maker, 4)

    owners = sorted(j.owner_id for j in claimed)
    assert owners in (sorted([*ids.values(), ids["a"]]), sorted([*ids.values(), ids["b"]]))
    assert len({j.id for j in claimed}) == 4


async def test_an_owner_holding_slots_waits_for_owners_holding_none(queue_db):
    """Whoever already runs jobs (on any worker) gets the next slot after those who run none,
    however early their jobs were queued."""
    maker = queue_db
    ids = await _users(maker, "hog", "other")
    await _queue(maker, [ids["hog"]] * 4 + [ids["other"]])
    first = await _claim(maker, 2)
    assert [j.owner_id for j in first] == [ids["hog"], ids["other"]]
    await _finish(maker, first[1])  # other's job ends; hog still runs one
    await _queue(maker, [ids["other"]])

    nxt = await _claim(maker, 1)

    assert [j.owner_id for j in nxt] == [ids["other"]]


async def test_two_workers_claiming_at_once_skip_each_others_jobs(engine):
    """PostgreSQL, two real connections: while one worker's claim is not yet committed, a
    second worker's claim skips the rows it holds instead of waiting or taking them too."""
    maker = create_sessionmaker(engine)
    ids = await _users(maker, "a", "b", "c")
    try:
        await _queue(maker, [ids["a"], ids["b"], ids["c"]] * 2)
        async with maker() as first, maker() as second:
            mine = await queue.claim(first, "w1", LEASE_S, 2)
            async with asyncio.timeout(10):  # blocking on the first's locks would hang here
                theirs = await queue.claim(second, "w2", LEASE_S, 2)
            await second.commit()
            await first.commit()
        assert len(mine) == len(theirs) == 2
        assert not {j.id for j in mine} & {j.id for j in theirs}
    finally:
        async with maker() as session:
            await session.execute(
                text("DELETE FROM user_account WHERE id = ANY(:ids)"), {"ids": list(ids.values())}
            )
            await session.commit()


async def test_the_fair_claim_plan_uses_indexes(db: AsyncSession):
    """PostgreSQL with many finished jobs and a full queue: the claim reads the queue and the
    owners' latest starts through indexes, not by scanning every job ever run."""
    ids = await _users_in(db, 20)
    await db.execute(
        text(
            "INSERT INTO job (id, owner_id, status, runtime, entrypoint, input_files, stdin, args,"
            " limits, stdout, stderr, stdout_truncated, stderr_truncated, files_truncated,"
            " attempts, cancel_requested, last_seq, stored_bytes, created_at, queued_at,"
            " started_at, finished_at)"
            " SELECT gen_random_uuid(), (CAST(:ids AS int[]))[1 + g % 20],"
            " CASE WHEN g % 100 = 0 THEN 'queued' ELSE 'succeeded' END, 'python', 'main.py',"
            " '{}', '', '[]', '{}', '', '', false, false, false, 1, false, 1, 0,"
            " now() - g * interval '1 second', now() - g * interval '1 second',"
            " CASE WHEN g % 100 = 0 THEN NULL ELSE now() - g * interval '1 second' END,"
            " CASE WHEN g % 100 = 0 THEN NULL ELSE now() END"
            " FROM generate_series(1, 50000) AS g"
        ),
        {"ids": ids},
    )
    await db.execute(text("ANALYZE job"))
    order = repository.fair_claim_order(2)
    sql = str(order.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))

    plan = "\n".join((await db.execute(text(f"EXPLAIN {sql}"))).scalars())

    assert "Seq Scan on job" not in plan, plan
    # each owner's latest start is one step down an index, not a read of all their jobs
    assert "ix_job_owner_id_started_at" in plan, plan


async def _users_in(session: AsyncSession, n: int) -> list[int]:
    users = [
        User(email=f"u{i}-{uuid.uuid4().hex[:6]}@example.com", full_name="u", password_hash="x")
        for i in range(n)
    ]
    session.add_all(users)
    await session.commit()
    return [u.id for u in users if u.id is not None]


# -- end to end ---------------------------------------------------------------------------------

JOB_S = 2.0
SLEEPER = f"import time; time.sleep({JOB_S})"


@pytest.mark.slow
async def test_a_victims_print_starts_within_a_job_length_while_a_flood_is_queued(live: Live):
    """Three users queue 12 jobs of 2 s on a worker with 2 slots (the flood takes 12 s to
    drain); the victim's `print` is among the next jobs started, not after the flood."""
    flooders = [await live.user() for _ in range(3)]
    flood_ids: list[str] = []
    for _ in range(4):
        for user in flooders:
            r = await live.submit(user, {"source": SLEEPER})
            assert r.status_code == 202, r.text
            flood_ids.append(r.json()["id"])
    victim = await live.user()
    r = await live.submit(victim, {"source": "print('hello')"}, wait=25)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "succeeded" and body["stdout"] == "hello\n"

    victim_started = (await live.job(body["id"])).started_at
    assert victim_started is not None
    flood = [await live.job(job_id) for job_id in flood_ids]
    started_before = sum(j.started_at is not None and j.started_at < victim_started for j in flood)
    # two slots were busy when the victim queued; at most one more job of each other user
    assert started_before <= 2 + len(flooders), started_before
    admin = await live.user(Role.admin)
    for job_id in flood_ids:  # leave the worker idle for the next test
        await live.client.post(f"{JOBS}/{job_id}/cancel", headers=auth_headers(admin))
