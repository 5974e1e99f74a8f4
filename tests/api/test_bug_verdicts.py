"""Reproduction verdicts drive the workflow: the history of a bug's verdicts, a fix that the
reproduction does not confirm going back to work, and closing such a bug refused (admins may
override with a comment). The sandbox is not needed here: the runs are arranged in the database
and their end goes through the real completion hook; tests/jobs/test_verified_fixes.py runs the
same story on the real Docker engine."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from api.bugs import reproductions
from api.db import utcnow
from api.models import (
    Bug,
    BugActivity,
    BugStatus,
    Job,
    JobStatus,
    Notification,
    Reproduction,
    Role,
)
from api.models import Resolution as R
from tests.api.bug_helpers import make_bug, make_project
from tests.conftest import auth_headers


@pytest.fixture
async def project(client, admin, developer, tester):
    return await make_project(client, admin, developer, tester)


async def _running(db, bug_id: int, owner_id: int, *, verifies_fix: bool = False) -> Job:
    """A reproduction run of the bug that has started, as `reproductions._start` leaves it."""
    data = {"bug_id": bug_id, **({"verifies_fix": True} if verifies_fix else {})}
    job = Job(owner_id=owner_id, on_finish=reproductions.HOOK, on_finish_data=data)
    db.add(job)
    await db.flush()
    db.add(Reproduction(bug_id=bug_id, job_id=job.id, verdict="running"))
    bug = await db.get(Bug, bug_id)
    assert bug is not None
    bug.repro_job_id, bug.verdict = str(job.id), "running"
    await db.commit()
    return job


async def _end(db, job: Job, status: JobStatus, exit_code: int | None) -> None:
    job.status, job.exit_code, job.duration_ms, job.finished_at = status, exit_code, 42, utcnow()
    await reproductions.REPRODUCTION_HOOK.on_finish(db, job)
    await db.commit()


async def _resolved_fixed(client, db, project, developer, tester, verdict: str | None) -> dict:
    bug = await make_bug(client, tester, project, repro_script="import sys\nsys.exit(1)")
    row = await db.get(Bug, bug["id"])
    row.status, row.resolution, row.assignee_id = BugStatus.resolved, R.fixed, developer.id
    row.verdict = verdict
    row.reproduces = {"reproduces": True, "does_not_reproduce": False}.get(verdict or "")
    await db.commit()
    return bug


async def test_a_bug_shows_its_current_verdict(client, project, tester):
    bug = await make_bug(client, tester, project, repro_script="print(1)")
    assert bug["verdict"] is None
    shown = (await client.get(f"/api/v1/bugs/{bug['id']}", headers=auth_headers(tester))).json()
    assert shown["verdict"] is None and shown["reproduces"] is None


async def test_a_fix_the_reproduction_does_not_confirm_goes_back_to_work(
    client, db, project, developer, tester, admin
):
    bug = await _resolved_fixed(client, db, project, developer, tester, None)
    job = await _running(db, bug["id"], developer.id, verifies_fix=True)
    shown = (await client.get(f"/api/v1/bugs/{bug['id']}", headers=auth_headers(tester))).json()
    assert (shown["status"], shown["verdict"]) == ("resolved", "running")

    await _end(db, job, JobStatus.failed, 1)

    row = await db.get(Bug, bug["id"])
    await db.refresh(row)
    assert (row.status, row.resolution, row.verdict) == (BugStatus.in_progress, None, "reproduces")
    assert row.reproduces is True
    notes = (await db.scalars(select(BugActivity.new).where(BugActivity.bug_id == bug["id"]))).all()
    assert f"Fix not verified: the reproduction still fails (job {job.id})" in notes
    told = (
        await db.scalars(select(Notification).where(Notification.kind == "bug.fix_not_verified"))
    ).all()
    assert {n.user_id for n in told} == {developer.id, tester.id}  # assignee, watcher
    assert all(n.link == f"/bugs/{bug['key']}" for n in told)
    run = await db.scalar(select(Reproduction).where(Reproduction.job_id == job.id))
    assert (run.verdict, run.exit_code, run.duration_ms) == ("reproduces", 1, 42)
    assert run.finished_at is not None


async def test_a_confirmed_fix_stays_resolved(client, db, project, developer, tester):
    bug = await _resolved_fixed(client, db, project, developer, tester, None)
    job = await _running(db, bug["id"], developer.id, verifies_fix=True)
    await _end(db, job, JobStatus.succeeded, 0)
    row = await db.get(Bug, bug["id"])
    await db.refresh(row)
    assert (row.status, row.verdict, row.reproduces) == (
        BugStatus.resolved,
        "does_not_reproduce",
        False,
    )


async def test_a_run_the_sandbox_could_not_finish_is_an_error_not_a_verdict(
    client, db, project, developer, tester
):
    bug = await _resolved_fixed(client, db, project, developer, tester, None)
    job = await _running(db, bug["id"], developer.id, verifies_fix=True)
    await _end(db, job, JobStatus.timed_out, None)
    row = await db.get(Bug, bug["id"])
    await db.refresh(row)
    assert (row.status, row.verdict, row.reproduces) == (BugStatus.resolved, "error", None)


async def test_closing_a_fix_that_still_reproduces_is_refused(
    client, db, project, developer, tester
):
    bug = await _resolved_fixed(client, db, project, developer, tester, "reproduces")
    r = await client.post(
        f"/api/v1/bugs/{bug['id']}/transitions",
        json={"to": "closed", "comment": "looks fine to me"},
        headers=auth_headers(tester),
    )
    assert r.status_code == 409, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "still_reproduces"
    row = await db.get(Bug, bug["id"])
    await db.refresh(row)
    assert row.status == BugStatus.resolved
    comments = await client.get(f"/api/v1/bugs/{bug['id']}/comments", headers=auth_headers(tester))
    assert comments.json()["items"] == []  # the refused request changed nothing


async def test_an_admin_overrides_only_with_a_comment_and_the_history_says_so(
    client, db, project, developer, tester, admin
):
    bug = await _resolved_fixed(client, db, project, developer, tester, "reproduces")
    url = f"/api/v1/bugs/{bug['id']}/transitions"
    r = await client.post(url, json={"to": "closed"}, headers=auth_headers(admin))
    assert r.status_code == 409 and r.json()["code"] == "still_reproduces"
    r = await client.post(
        url,
        json={"to": "closed", "comment": "The script tests the old API; fixed for users."},
        headers=auth_headers(admin),
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed"
    history = await client.get(f"/api/v1/bugs/{bug['id']}/activity", headers=auth_headers(tester))
    overrides = [a for a in history.json()["items"] if a["field"] == "verdict_override"]
    assert len(overrides) == 1 and overrides[0]["actor"]["id"] == admin.id
    assert "still fails" in overrides[0]["new"]


async def test_a_fix_that_no_longer_reproduces_closes(client, db, project, developer, tester):
    bug = await _resolved_fixed(client, db, project, developer, tester, "does_not_reproduce")
    r = await client.post(
        f"/api/v1/bugs/{bug['id']}/transitions", json={"to": "closed"}, headers=auth_headers(tester)
    )
    assert r.status_code == 200, r.text


async def test_the_verdict_history_is_paged_newest_first(client, db, project, developer, tester):
    bug = await make_bug(client, tester, project, repro_script="import sys\nsys.exit(1)")
    jobs = []
    for status, code in ((JobStatus.failed, 1), (JobStatus.succeeded, 0), (JobStatus.error, None)):
        job = await _running(db, bug["id"], developer.id)
        await _end(db, job, status, code)
        jobs.append(job)
    url = f"/api/v1/bugs/{bug['key']}/reproductions"
    first = await client.get(url, params={"limit": 2}, headers=auth_headers(tester))
    assert first.status_code == 200, first.text
    page = first.json()
    assert [i["verdict"] for i in page["items"]] == ["error", "does_not_reproduce"]
    assert page["items"][0]["job_id"] == str(jobs[2].id)
    # the field names API.md fixes for the verdict history
    assert {"verdict", "job_id", "build_id", "exit_code", "cpu_ms", "peak_memory_bytes"} <= set(
        page["items"][0]
    )
    assert 'rel="next"' in first.headers["Link"]
    rest = await client.get(
        url, params={"limit": 2, "cursor": page["next_cursor"]}, headers=auth_headers(tester)
    )
    assert [i["verdict"] for i in rest.json()["items"]] == ["reproduces"]
    assert rest.json()["items"][0]["exit_code"] == 1 and rest.json()["next_cursor"] is None


async def test_a_superseded_run_still_gets_its_verdict(client, db, project, developer, tester):
    bug = await make_bug(client, tester, project, repro_script="import sys\nsys.exit(1)")
    old = await _running(db, bug["id"], developer.id)
    new = await _running(db, bug["id"], developer.id)
    await _end(db, old, JobStatus.failed, 1)
    row = await db.get(Bug, bug["id"])
    await db.refresh(row)
    assert row.verdict == "running" and row.repro_job_id == str(new.id)
    run = await db.scalar(select(Reproduction).where(Reproduction.job_id == old.id))
    assert run.verdict == "reproduces"


async def test_the_verdict_history_of_an_invisible_bug_is_404(client, db, make_user, tester):
    admin = await make_user(Role.admin)
    await make_project(client, admin, key="HID")
    bug = await make_bug(client, admin, "HID", repro_script="print(1)")
    r = await client.get(f"/api/v1/bugs/{bug['id']}/reproductions", headers=auth_headers(tester))
    assert r.status_code == 404 and r.json()["code"] == "bug_not_found"
    r = await client.get(
        f"/api/v1/bugs/{bug['id']}/reproductions",
        params={"cursor": "bad"},
        headers=auth_headers(admin),
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"


def test_started_and_finished_times_are_kept():
    run = Reproduction(bug_id=1, job_id=uuid.uuid4(), verdict="running")
    assert run.finished_at is None and run.created_at <= utcnow() + timedelta(seconds=1)
