"""Finding 19: nothing was ever cleaned up (510 jobs left a 2.7 GB database).

The maintenance loop's retention pass removes the input, output, files and events of jobs past
the retention period, and a user's oldest ones beyond their storage quota; the job row stays,
marked, and answers sensibly. Reproduction runs of bugs that are not closed are kept. Checked on
PostgreSQL and SQLite; /metrics shows what is stored.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from api import migrations
from api.config import Settings
from api.db import create_engine, create_sessionmaker, utcnow
from api.jobs import repository, retention
from api.models import Bug, BugStatus, Job, JobEvent, JobFile, JobStatus, Project, Role, User
from api.wiring import wire_job_hooks
from tests.conftest import auth_headers

JOBS = "/api/v1/jobs"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'retention.db'}"
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
def maker(request: pytest.FixtureRequest) -> async_sessionmaker[AsyncSession]:
    name = "sessionmaker" if request.param == "postgresql" else "sqlite_maker"
    found: async_sessionmaker[AsyncSession] = request.getfixturevalue(name)
    return found


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    fields: dict[str, object] = {
        "env": "dev",
        "secret_key": "x" * 40,
        "data_dir": tmp_path / "data",
        "executor_backend": "off",
        "job_retention_days": 30,
        "job_storage_per_user_mb": 0,
        **overrides,
    }
    return Settings(**fields)  # type: ignore[arg-type]


async def _user(maker: async_sessionmaker[AsyncSession], role: Role = Role.tester) -> User:
    async with maker() as session:
        user = User(email=f"r-{uuid.uuid4().hex[:8]}@example.com", full_name="R", password_hash="x")
        user.role = role
        session.add(user)
        await session.commit()
        return user


async def _bug(maker: async_sessionmaker[AsyncSession], owner: User, status: BugStatus) -> int:
    async with maker() as session:
        project = Project(key=f"P{uuid.uuid4().hex[:6].upper()}", name="P")
        session.add(project)
        await session.flush()
        assert project.id is not None and owner.id is not None
        bug = Bug(project_id=project.id, number=1, title="t", reporter_id=owner.id, status=status)
        session.add(bug)
        await session.commit()
        assert bug.id is not None
        return bug.id


async def _ended_job(
    maker: async_sessionmaker[AsyncSession],
    owner: User,
    ended: datetime,
    *,
    output: int = 1000,
    bug_id: int | None = None,
) -> uuid.UUID:
    """A job that ended at ``ended`` with ``output`` bytes of stdout, events and a file."""
    assert owner.id is not None
    async with maker() as session:
        job = Job(
            owner_id=owner.id,
            status=JobStatus.succeeded,
            input_files={"main.py": "cHJpbnQoMSk="},
            limits={"wall_time_s": 10.0, "memory_mb": 256, "output_bytes": 1_000_000},
            stdout="o" * output,
            exit_code=0,
            created_at=ended - timedelta(seconds=2),
            queued_at=ended - timedelta(seconds=2),
            started_at=ended - timedelta(seconds=1),
            finished_at=ended,
            last_seq=4,
            on_finish="bug_reproduction" if bug_id is not None else None,
            on_finish_data={"bug_id": bug_id} if bug_id is not None else None,
        )
        session.add(job)
        await session.flush()
        session.add_all(
            [
                JobEvent(job_id=job.id, seq=1, kind="status", data='{"status":"queued"}'),
                JobEvent(
                    job_id=job.id, seq=2, kind="stdout", data=json.dumps({"data": job.stdout})
                ),
                JobEvent(job_id=job.id, seq=3, kind="status", data='{"status":"succeeded"}'),
                JobEvent(job_id=job.id, seq=4, kind="exit", data='{"files":[{"path":"a"}]}'),
                JobFile(
                    job_id=job.id,
                    path="out.bin",
                    size=output,
                    sha256="0" * 64,
                    content=b"f" * output,
                ),
            ]
        )
        await session.flush()
        await repository.count_stored_bytes(session, job.id)
        await session.commit()
        return job.id


async def _state(
    maker: async_sessionmaker[AsyncSession], job_id: uuid.UUID
) -> tuple[Job, int, int]:
    async with maker() as session:
        job = await session.get(Job, job_id, populate_existing=True)
        assert job is not None
        events = await session.scalar(select(func.count()).where(col(JobEvent.job_id) == job_id))
        files = await session.scalar(select(func.count()).where(col(JobFile.job_id) == job_id))
        return job, int(events or 0), int(files or 0)


async def test_jobs_past_retention_lose_their_output_and_recent_ones_keep_it(maker, tmp_path):
    owner = await _user(maker)
    now = utcnow()
    old = await _ended_job(maker, owner, now - timedelta(days=31))
    recent = await _ended_job(maker, owner, now - timedelta(days=29))

    done = await retention.enforce(maker, _settings(tmp_path), now=now)

    assert done.expired == 1
    job, events, files = await _state(maker, old)
    assert job.purged_at is not None and job.purge_reason == "retention"
    assert job.stdout == "" and job.input_files == {} and files == 0
    assert events == 1, "only the exit event stays, so a replay still ends"
    assert job.status == JobStatus.succeeded and job.exit_code == 0, "the history stays"
    assert job.stored_bytes < 1000
    kept, events, files = await _state(maker, recent)
    assert kept.purged_at is None and kept.stdout == "o" * 1000 and events == 4 and files == 1


async def test_reproductions_of_bugs_not_closed_are_kept(maker, tmp_path):
    wire_job_hooks()  # as every process does at start-up: the reproduction hook keeps its jobs
    owner = await _user(maker)
    now = utcnow()
    open_bug = await _bug(maker, owner, BugStatus.open)
    resolved_bug = await _bug(maker, owner, BugStatus.resolved)
    closed_bug = await _bug(maker, owner, BugStatus.closed)
    ended = now - timedelta(days=90)
    of_open = await _ended_job(maker, owner, ended, bug_id=open_bug)
    of_resolved = await _ended_job(maker, owner, ended, bug_id=resolved_bug)
    of_closed = await _ended_job(maker, owner, ended, bug_id=closed_bug)

    await retention.enforce(maker, _settings(tmp_path, job_storage_per_user_mb=0), now=now)

    assert (await _state(maker, of_open))[0].purged_at is None
    assert (await _state(maker, of_resolved))[0].purged_at is None
    assert (await _state(maker, of_closed))[0].purge_reason == "retention"


async def test_only_the_latest_reproduction_of_an_open_bug_is_kept_and_it_counts(maker, tmp_path):
    """Older runs of the same open bug are history: purgeable. The kept run still counts in
    its owner's stored bytes (the quota) and in the stored-bytes gauge."""
    wire_job_hooks()
    owner = await _user(maker)
    now = utcnow()
    bug = await _bug(maker, owner, BugStatus.open)
    older = await _ended_job(maker, owner, now - timedelta(days=91), bug_id=bug)
    latest = await _ended_job(maker, owner, now - timedelta(days=90), output=5000, bug_id=bug)

    await retention.enforce(maker, _settings(tmp_path, job_storage_per_user_mb=0), now=now)

    assert (await _state(maker, older))[0].purge_reason == "retention"
    kept = (await _state(maker, latest))[0]
    assert kept.purged_at is None and kept.stored_bytes >= 10000
    assert owner.id is not None
    async with maker() as session:
        assert await repository.stored_by(session, owner.id) >= kept.stored_bytes
        total = (await repository.storage_totals(session))[3]
    assert total >= kept.stored_bytes
    assert (REGISTRY.get_sample_value("nimbus_job_stored_bytes") or 0) == total


async def test_the_quota_removes_the_oldest_jobs_first(maker, tmp_path):
    """Quota 1 MB, three jobs of ~0.75 MB each (output, its event, a file): the two oldest go
    (the third alone fits)."""
    owner, other = await _user(maker), await _user(maker)
    now = utcnow()
    size = 250 * 1024
    jobs = [
        await _ended_job(maker, owner, now - timedelta(hours=h), output=size) for h in (3, 2, 1)
    ]
    others = await _ended_job(maker, other, now - timedelta(hours=4), output=size)
    settings = _settings(tmp_path, job_storage_per_user_mb=1)

    done = await retention.enforce(maker, settings, now=now)

    assert done.over_quota == 2
    states = [(await _state(maker, j))[0] for j in jobs]
    assert [s.purge_reason for s in states] == ["quota", "quota", None]
    assert (await _state(maker, others))[0].purged_at is None, "another user's quota"
    again = await retention.enforce(maker, settings, now=now)
    assert again.over_quota == 0


async def test_metrics_show_what_is_stored(maker, tmp_path):
    owner = await _user(maker)
    now = utcnow()
    await _ended_job(maker, owner, now - timedelta(days=40), output=5000)
    await _ended_job(maker, owner, now, output=7000)

    await retention.enforce(maker, _settings(tmp_path), now=now)

    async with maker() as session:
        jobs = int(await session.scalar(select(func.count()).select_from(Job)) or 0)
        events = int(await session.scalar(select(func.count()).select_from(JobEvent)) or 0)
        files = int(await session.scalar(select(func.sum(JobFile.size))) or 0)
    sample = REGISTRY.get_sample_value
    assert sample("nimbus_job_rows", {"output": "purged"}) == 1
    assert sample("nimbus_job_rows", {"output": "kept"}) == jobs - 1
    assert sample("nimbus_job_event_rows") == events
    assert sample("nimbus_job_file_bytes") == files == 7000
    assert (sample("nimbus_job_stored_bytes") or 0) >= 14000


async def test_the_maintenance_loop_runs_the_retention(sessionmaker, tmp_path):
    from api.jobs.worker import maintain_once

    owner = await _user(sessionmaker)
    old = await _ended_job(sessionmaker, owner, utcnow() - timedelta(days=365))
    retention._next_pass = 0.0

    await maintain_once(sessionmaker, _settings(tmp_path))

    assert (await _state(sessionmaker, old))[0].purge_reason == "retention"


async def test_a_purged_job_says_its_output_was_removed(client, sessionmaker, tmp_path):
    """The job reads as it ended, marked; its files answer 410 with a code; its event stream
    replays the exit event and ends."""
    owner = await _user(sessionmaker, Role.developer)
    old = await _ended_job(sessionmaker, owner, utcnow() - timedelta(days=60))
    await retention.enforce(sessionmaker, _settings(tmp_path))
    headers = auth_headers(owner)

    r = await client.get(f"{JOBS}/{old}", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["purge_reason"] == "retention" and body["purged_at"]
    assert body["stdout"] == "" and body["files"] == [] and body["status"] == "succeeded"

    for url in (f"{JOBS}/{old}/files", f"{JOBS}/{old}/files/out.bin"):
        r = await client.get(url, headers=headers)
        assert r.status_code == 410, r.text
        assert r.json()["code"] == "job_output_purged"
        assert "removed" in r.json()["detail"]

    r = await client.get(f"{JOBS}/{old}/events", headers=headers)
    assert r.status_code == 200
    assert "event: exit" in r.text and "event: stdout" not in r.text
    assert '"purge_reason":"retention"' in r.text


async def test_admins_see_what_the_jobs_store(client, sessionmaker, tmp_path):
    owner = await _user(sessionmaker, Role.developer)
    admin = await _user(sessionmaker, Role.admin)
    await _ended_job(sessionmaker, owner, utcnow() - timedelta(days=60), output=3000)
    await _ended_job(sessionmaker, owner, utcnow(), output=2000)
    await retention.enforce(sessionmaker, _settings(tmp_path))

    r = await client.get(f"{JOBS}/storage", headers=auth_headers(admin))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["purged_jobs"] >= 1 and body["jobs"] >= 2
    assert body["file_bytes"] >= 2000 and body["stored_bytes"] >= 6000
    assert body["retention_days"] == 30

    r = await client.get(f"{JOBS}/storage", headers=auth_headers(owner))
    assert r.status_code == 403 and r.json()["code"]


async def test_a_pass_stops_at_its_bound_and_the_next_comes_at_once(
    sessionmaker, tmp_path, monkeypatch
):
    """Bounded work per pass: with room for two batches of one, three expired jobs take two
    passes, and the loop does not wait a whole interval for the second."""
    monkeypatch.setattr(retention, "BATCH", 1)
    monkeypatch.setattr(retention, "MAX_BATCHES", 2)
    owner = await _user(sessionmaker)
    old = [
        await _ended_job(sessionmaker, owner, utcnow() - timedelta(days=40 + i)) for i in range(3)
    ]
    settings = _settings(tmp_path, job_retention_interval_s=3600)
    retention._next_pass = 0.0

    await retention.run_if_due(sessionmaker, settings)

    purged = [(await _state(sessionmaker, j))[0].purged_at is not None for j in old]
    assert purged.count(True) == 2 and not purged[0], "oldest first"
    assert retention._next_pass <= time.monotonic(), "more to do: due again at once"
    await retention.run_if_due(sessionmaker, settings)
    assert (await _state(sessionmaker, old[0]))[0].purged_at is not None
    assert retention._next_pass > time.monotonic() + 3000


async def test_a_failing_pass_is_logged_and_retried_later(
    sessionmaker, tmp_path, monkeypatch, caplog
):
    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("database away")

    monkeypatch.setattr(retention, "enforce", broken)
    retention._next_pass = 0.0

    await retention.run_if_due(sessionmaker, _settings(tmp_path))

    assert "job retention failed" in caplog.text
