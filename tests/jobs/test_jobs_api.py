"""The jobs API without a sandbox: validation, idempotency, backpressure, visibility, cancel,
the queue's state changes. Jobs stay queued here (workers are "elsewhere")."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from api.db import utcnow
from api.jobs import hooks, queue, service
from api.jobs.hooks import JobHook, JobHooks
from api.jobs.schemas import JobCreate
from api.models import Job, JobEvent, JobFile, JobStatus, Role
from executor.backends import Outcome, OutputFile, RunResult
from tests.conftest import auth_headers

JOBS = "/api/v1/jobs"


@pytest.fixture
def settings(settings):
    """Workers run elsewhere: jobs are accepted and stay queued."""
    return settings.model_copy(
        update={
            "executor_in_process": False,
            "job_max_active_per_user": 3,
            "job_queue_max": 5,
            "job_submit_rate_per_minute": 4,
        }
    )


async def submit(client, user, body=None, **kw):
    return await client.post(
        JOBS,
        json={"source": "print(1)"} if body is None else body,
        headers={**auth_headers(user), **kw},
    )


async def events_of(db, job_id):
    rows = await db.scalars(
        select(JobEvent).where(JobEvent.job_id == uuid.UUID(job_id)).order_by(JobEvent.seq)
    )
    return [(e.seq, e.kind, json.loads(e.data)) for e in rows]


async def test_submit_queues_the_job_with_location_and_a_status_event(client, developer, db):
    r = await submit(client, developer)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "queued"
    assert r.headers["Location"] == f"{JOBS}/{body['id']}"
    assert body["limits"] == {"wall_time_s": 10.0, "memory_mb": 256, "output_bytes": 1_000_000}
    assert body["owner_id"] == developer.id and body["files"] == [] and body["attempts"] == 0
    job = await db.get(Job, uuid.UUID(body["id"]))
    assert job is not None and job.status == JobStatus.queued
    assert base64.b64decode(job.input_files["main.py"]) == b"print(1)"
    assert await events_of(db, body["id"]) == [(1, "status", {"status": "queued"})]


async def test_limits_above_the_maxima_are_clamped(client, developer):
    r = await submit(
        client,
        developer,
        {"source": "", "limits": {"wall_time_s": 999, "memory_mb": 99999, "output_bytes": 5}},
    )
    assert r.json()["limits"] == {"wall_time_s": 30.0, "memory_mb": 256, "output_bytes": 5}


async def test_files_with_base64_content_and_a_chosen_entrypoint(client, developer, db):
    body = {
        "files": [
            {"path": "app/run.py", "content": "import data"},
            {
                "path": "data.bin",
                "content": base64.b64encode(b"\x00\xff").decode(),
                "encoding": "base64",
            },
        ],
        "entrypoint": "app/run.py",
        "stdin": "in",
        "args": ["-v", "x y"],
    }
    r = await submit(client, developer, body)
    assert r.status_code == 202, r.text
    job = await db.get(Job, uuid.UUID(r.json()["id"]))
    assert job.entrypoint == "app/run.py" and job.args == ["-v", "x y"] and job.stdin == b"in"
    assert base64.b64decode(job.input_files["data.bin"]) == b"\x00\xff"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"source": "x", "files": [{"path": "main.py", "content": ""}]},
        {"files": [{"path": "../evil.py", "content": ""}], "entrypoint": "../evil.py"},
        {"files": [{"path": "/etc/passwd", "content": ""}]},
        {"files": [{"path": "a.py", "content": ""}]},  # entrypoint main.py is missing
        {"files": [{"path": "main.py", "content": ""}, {"path": "main.py", "content": ""}]},
        {"files": [{"path": "main.py", "content": "@@", "encoding": "base64"}]},
        {  # `d` both a file and the directory of d/x.py
            "files": [
                {"path": "main.py", "content": ""},
                {"path": "d", "content": ""},
                {"path": "d/x.py", "content": ""},
            ]
        },
        {"files": []},
        {"source": "x", "limits": {"wall_time_s": 0}},
        {"source": "x", "limits": {"memory_mb": 1}},
        {"source": "x", "limits": {"cpus": 4}},
        {"source": "x", "args": ["a\x00b"]},
        {"source": "x", "surprise": True},
    ],
)
async def test_invalid_submissions_are_422_problems(client, developer, body):
    r = await submit(client, developer, body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "validation_error" and r.json()["errors"]


async def test_wait_above_30_seconds_is_refused(client, developer):
    r = await client.post(
        JOBS, params={"wait": 31}, json={"source": "x"}, headers=auth_headers(developer)
    )
    assert r.status_code == 422


async def test_oversized_submission_is_413(client, developer, settings):
    big = "x" * (settings.job_max_request_bytes + 1)
    r = await submit(client, developer, {"source": "", "stdin": big})
    assert r.status_code == 413 and r.json()["code"] == "job_too_large"


async def test_submitting_needs_a_token(client):
    r = await client.post(JOBS, json={"source": "x"})
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


async def test_jobs_fail_fast_when_no_executor_runs_here(client, developer, app, db):
    app.state.settings = app.state.settings.model_copy(update={"executor_in_process": True})
    r = await submit(client, developer)
    assert r.status_code == 503
    assert r.json()["code"] == "executor_unavailable"
    assert "NIMBUS_EXECUTOR_BACKEND" in r.json()["detail"] and r.headers["Retry-After"]
    assert (await db.scalars(select(Job))).all() == []


# -- idempotency --------------------------------------------------------------------------------


async def test_same_idempotency_key_and_body_returns_the_original_job(client, developer, db):
    first = await submit(client, developer, {"source": "print(2)"}, **{"Idempotency-Key": "k-1"})
    again = await submit(client, developer, {"source": "print(2)"}, **{"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert "Idempotent-Replayed" not in first.headers
    assert len((await db.scalars(select(Job))).all()) == 1


async def test_same_idempotency_key_with_another_body_is_409(client, developer):
    first = await submit(client, developer, {"source": "print(2)"}, **{"Idempotency-Key": "k-2"})
    r = await submit(client, developer, {"source": "print(3)"}, **{"Idempotency-Key": "k-2"})
    assert r.status_code == 409 and r.json()["code"] == "idempotency_key_reused"
    assert r.json()["job_id"] == first.json()["id"]  # the job the key already names


async def test_idempotency_keys_are_per_user(client, developer, tester):
    a = await submit(client, developer, **{"Idempotency-Key": "shared"})
    b = await submit(client, tester, **{"Idempotency-Key": "shared"})
    assert a.json()["id"] != b.json()["id"]


async def test_malformed_idempotency_key_is_422(client, developer):
    r = await submit(client, developer, **{"Idempotency-Key": "has space"})
    assert r.status_code == 422


async def test_replay_of_a_finished_job_with_wait_is_200(client, developer):
    first = await submit(client, developer, **{"Idempotency-Key": "k-3"})
    await client.post(f"{JOBS}/{first.json()['id']}/cancel", headers=auth_headers(developer))
    r = await client.post(
        JOBS,
        params={"wait": 5},
        json={"source": "print(1)"},
        headers={**auth_headers(developer), "Idempotency-Key": "k-3"},
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled"


# -- backpressure -------------------------------------------------------------------------------


async def test_per_user_cap_on_queued_and_running_jobs_is_429(client, developer, tester):
    for _ in range(3):
        assert (await submit(client, developer)).status_code == 202
    r = await submit(client, developer)
    assert r.status_code == 429 and r.json()["code"] == "too_many_jobs"
    assert int(r.headers["Retry-After"]) >= 1
    assert (await submit(client, tester)).status_code == 202  # others are not affected


async def test_submission_rate_limit_is_429_with_retry_after(client, developer, db):
    for _ in range(3):
        await submit(client, developer)
    await db.execute(update(Job).values(status=JobStatus.succeeded))  # free the active cap
    await db.commit()
    assert (await submit(client, developer)).status_code == 202
    r = await submit(client, developer)
    assert r.status_code == 429 and r.json()["code"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 61


async def test_full_queue_is_503_with_retry_after(client, make_user):
    users = [await make_user(Role.developer) for _ in range(3)]
    for user in users[:2]:
        for _ in range(3 if user is users[0] else 2):
            assert (await submit(client, user)).status_code == 202
    r = await submit(client, users[2])
    assert r.status_code == 503 and r.json()["code"] == "queue_full"
    assert r.headers["Retry-After"] == "5"


# -- visibility and listing ---------------------------------------------------------------------


async def test_other_users_jobs_are_404_everywhere(client, developer, tester):
    job_id = (await submit(client, developer)).json()["id"]
    for method, path in [
        ("GET", f"{JOBS}/{job_id}"),
        ("GET", f"{JOBS}/{job_id}/events"),
        ("POST", f"{JOBS}/{job_id}/cancel"),
        ("GET", f"{JOBS}/{job_id}/files"),
        ("GET", f"{JOBS}/{job_id}/files/out.txt"),
    ]:
        r = await client.request(method, path, headers=auth_headers(tester))
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["code"] == "job_not_found"


async def test_a_bugs_reproduction_is_readable_by_whoever_sees_the_bug(
    client, admin, developer, make_user
):
    """The verdict's evidence: members read the run (result, events, files), cannot cancel it."""
    member, outsider = await make_user(Role.developer), await make_user(Role.tester)
    h = auth_headers(admin)
    await client.post("/api/v1/projects", json={"key": "REP", "name": "Repro"}, headers=h)
    for user in (developer, member):
        await client.put(f"/api/v1/projects/REP/members/{user.id}", headers=h)
    bug = {"title": "Totals are wrong", "repro_script": "raise SystemExit(1)"}
    bug = (await client.post("/api/v1/projects/REP/bugs", json=bug, headers=h)).json()
    r = await client.post(
        f"/api/v1/bugs/{bug['id']}/reproductions", headers=auth_headers(developer)
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    r = await client.post(f"{JOBS}/{job_id}/cancel", headers=auth_headers(member))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert (
        await client.post(f"{JOBS}/{job_id}/cancel", headers=auth_headers(developer))
    ).is_success
    for method, path in [
        ("GET", f"{JOBS}/{job_id}"),
        ("GET", f"{JOBS}/{job_id}/events"),
        ("GET", f"{JOBS}/{job_id}/files"),
    ]:
        shown = await client.request(method, path, headers=auth_headers(member))
        assert shown.status_code == 200, (method, path, shown.text)
        hidden = await client.request(method, path, headers=auth_headers(outsider))
        assert hidden.status_code == 404, (method, path, hidden.text)
    assert (
        "cancelled"
        in (await client.get(f"{JOBS}/{job_id}/events", headers=auth_headers(member))).text
    )
    own = (await submit(client, developer)).json()["id"]  # not a reproduction: the owner's only
    assert (await client.get(f"{JOBS}/{own}", headers=auth_headers(member))).status_code == 404


async def test_unknown_job_is_404_and_a_malformed_id_422(client, developer):
    r = await client.get(f"{JOBS}/{uuid.uuid4()}", headers=auth_headers(developer))
    assert r.status_code == 404
    r = await client.get(f"{JOBS}/not-a-uuid", headers=auth_headers(developer))
    assert r.status_code == 422


async def test_admin_reads_and_lists_everyones_jobs(client, admin, developer, tester):
    mine = (await submit(client, developer)).json()["id"]
    await submit(client, tester)
    r = await client.get(f"{JOBS}/{mine}", headers=auth_headers(admin))
    assert r.status_code == 200
    everyone = (await client.get(JOBS, headers=auth_headers(admin))).json()["items"]
    assert len(everyone) == 2
    only = await client.get(JOBS, params={"owner_id": developer.id}, headers=auth_headers(admin))
    assert [j["id"] for j in only.json()["items"]] == [mine]


async def test_users_list_only_their_own_jobs_newest_first(client, developer, tester):
    ids = [(await submit(client, developer)).json()["id"] for _ in range(3)]
    await submit(client, tester)
    r = await client.get(JOBS, headers=auth_headers(developer))
    assert [j["id"] for j in r.json()["items"]] == ids[::-1]
    r = await client.get(JOBS, params={"owner_id": tester.id}, headers=auth_headers(developer))
    assert r.json()["items"] == []


async def test_list_pages_with_cursor_and_link_and_filters_by_status(client, developer):
    ids = [(await submit(client, developer)).json()["id"] for _ in range(3)]
    await client.post(f"{JOBS}/{ids[0]}/cancel", headers=auth_headers(developer))
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await client.get(JOBS, params=params, headers=auth_headers(developer))
        seen += [j["id"] for j in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if not cursor:
            assert "Link" not in r.headers
            break
        assert 'rel="next"' in r.headers["Link"]
    assert sorted(seen) == sorted(ids) and len(seen) == 3
    r = await client.get(JOBS, params={"status": "cancelled"}, headers=auth_headers(developer))
    assert [j["id"] for j in r.json()["items"]] == [ids[0]]
    r = await client.get(JOBS, params={"sort": "-status"}, headers=auth_headers(developer))
    assert r.json()["items"][-1]["id"] == ids[0]


async def test_bad_cursor_and_sort_are_400(client, developer):
    r = await client.get(JOBS, params={"cursor": "!!"}, headers=auth_headers(developer))
    assert r.json()["code"] == "invalid_cursor"
    r = await client.get(JOBS, params={"sort": "stdout"}, headers=auth_headers(developer))
    assert r.json()["code"] == "invalid_sort"


# -- cancel, events ----------------------------------------------------------------------------


async def test_cancelling_a_queued_job_ends_it_with_status_and_exit_events(client, developer, db):
    job_id = (await submit(client, developer)).json()["id"]
    r = await client.post(f"{JOBS}/{job_id}/cancel", headers=auth_headers(developer))
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled" and r.json()["finished_at"]
    events = await events_of(db, job_id)
    assert [(s, k) for s, k, _ in events] == [(1, "status"), (2, "status"), (3, "exit")]
    assert events[1][2] == {"status": "cancelled"}
    assert events[2][2]["status"] == "cancelled" and "stdout" not in events[2][2]
    again = await client.post(f"{JOBS}/{job_id}/cancel", headers=auth_headers(developer))
    assert again.status_code == 409 and again.json()["code"] == "job_finished"


async def test_cancelling_a_running_job_asks_its_worker(client, developer, db):
    job_id = (await submit(client, developer)).json()["id"]
    claimed = await queue.claim_next(db, "w1", 30)
    await db.commit()
    assert claimed is not None and str(claimed.id) == job_id
    r = await client.post(f"{JOBS}/{job_id}/cancel", headers=auth_headers(developer))
    assert r.status_code == 202
    assert r.json()["status"] == "running" and r.json()["cancel_requested"] is True


async def test_events_of_an_ended_job_replay_and_resume(client, developer):
    job_id = (await submit(client, developer)).json()["id"]
    await client.post(f"{JOBS}/{job_id}/cancel", headers=auth_headers(developer))
    r = await client.get(f"{JOBS}/{job_id}/events", headers=auth_headers(developer))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["cache-control"] == "no-cache"
    assert 'id: 1\nevent: status\ndata: {"status":"queued"}\n\n' in r.text
    assert r.text.rstrip().split("\n\n")[-1].startswith("id: 3\nevent: exit\n")
    resumed = await client.get(
        f"{JOBS}/{job_id}/events", headers={**auth_headers(developer), "Last-Event-ID": "2"}
    )
    assert "id: 1\n" not in resumed.text and "id: 2\n" not in resumed.text
    assert "id: 3\nevent: exit" in resumed.text
    bad = await client.get(
        f"{JOBS}/{job_id}/events", headers={**auth_headers(developer), "Last-Event-ID": "x"}
    )
    assert bad.status_code == 422


async def test_runtimes_report_limits_and_availability(client, tester):
    r = await client.get("/api/v1/runtimes", headers=auth_headers(tester))
    assert r.status_code == 200
    python, *_ = r.json()["items"]
    assert python["name"] == "python" and python["available"] is True
    assert python["max_limits"] == {
        "wall_time_s": 30.0,
        "memory_mb": 256,
        "output_bytes": 1_000_000,
    }
    assert python["default_limits"]["wall_time_s"] == 10.0


def test_operation_ids_follow_the_tag_name_convention(app):
    ops = {
        op["operationId"]
        for path, item in app.openapi()["paths"].items()
        if "/jobs" in path or "/runtimes" in path
        for op in item.values()
    }
    assert ops == {
        "jobs-create",
        "jobs-list",
        "jobs-read",
        "jobs-stream-events",
        "jobs-cancel",
        "jobs-list-files",
        "jobs-download-file",
        "jobs-storage",
        "runtimes-list",
    }


# -- the queue, driven directly ----------------------------------------------------------------


async def _queued(db, owner, **fields):
    limits = {"wall_time_s": 5.0, "memory_mb": 256, "output_bytes": 1000}
    job = Job(owner_id=owner.id, input_files={"main.py": ""}, limits=limits, last_seq=1, **fields)
    db.add(job)
    await db.commit()
    return job


async def test_claim_takes_the_oldest_queued_job_once(db, developer):
    old = await _queued(db, developer, queued_at=utcnow() - timedelta(minutes=1))
    await _queued(db, developer)
    first = await queue.claim_next(db, "w1", 30)
    assert first is not None and first.id == old.id
    assert first.status == JobStatus.running and first.attempts == 1 and first.worker_id == "w1"
    second = await queue.claim_next(db, "w2", 30)
    assert second is not None and second.id != old.id
    assert await queue.claim_next(db, "w3", 30) is None


async def test_claim_takes_as_many_as_asked_oldest_first(db, developer):
    now = utcnow()
    jobs = [await _queued(db, developer, queued_at=now - timedelta(minutes=m)) for m in (1, 3, 2)]
    claimed = await queue.claim(db, "w1", 30, 2)
    assert [j.id for j in claimed] == [jobs[1].id, jobs[2].id]  # oldest first, exactly two
    assert all(j.status == JobStatus.running and j.worker_id == "w1" for j in claimed)
    assert [j.id for j in await queue.claim(db, "w2", 30, 5)] == [jobs[0].id]
    assert await queue.claim(db, "w3", 30, 5) == []


async def test_a_worker_that_lost_its_lease_cannot_write(db, developer):
    await _queued(db, developer)
    job = await queue.claim_next(db, "w1", 30)
    assert job is not None
    assert await queue.heartbeat(db, job.id, "w2", 1, 30) is None
    assert await queue.heartbeat(db, job.id, "w1", 2, 30) is None
    beat = await queue.heartbeat(db, job.id, "w1", 1, 30, [("stdout", "hi")])
    assert beat is not None and beat.last_seq == 3
    result = RunResult(outcome=Outcome.SUCCEEDED, exit_code=0, stdout="hi")
    assert await queue.finish_run(db, job.id, "w2", 1, result, notify_after_s=10) is None
    done = await queue.finish_run(db, job.id, "w1", 1, result, [("stdout", "!")], notify_after_s=10)
    assert done is not None and done.status == JobStatus.succeeded and done.last_seq == 6


async def test_expired_lease_is_retried_once_then_ends_error(db, developer, settings):
    job = await _queued(db, developer)
    for attempt in (1, 2):
        claimed = await queue.claim_next(db, f"w{attempt}", 30)
        assert claimed is not None and claimed.attempts == attempt
        await db.execute(update(Job).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        assert await queue.reap_expired_leases(db, settings) == 1
        await db.commit()
        await db.refresh(job)
        expected = JobStatus.queued if attempt == 1 else JobStatus.error
        assert job.status == expected
    assert "stopped responding" in (job.error or "")
    kinds = [k for _, k, _ in await events_of(db, str(job.id))]
    assert kinds == ["status", "status", "status", "status", "exit"]  # (no event 1 here)


async def test_expired_lease_of_a_job_being_cancelled_ends_cancelled(db, developer, settings):
    job = await _queued(db, developer)
    await queue.claim_next(db, "w1", 30)
    await db.execute(
        update(Job).values(cancel_requested=True, lease_expires_at=utcnow() - timedelta(seconds=1))
    )
    await queue.reap_expired_leases(db, settings)
    await db.refresh(job)
    assert job.status == JobStatus.cancelled


async def test_release_requeues_without_spending_an_attempt(db, developer):
    job = await _queued(db, developer)
    await queue.claim_next(db, "w1", 30)
    assert await queue.release(db, job.id, "w1", 1) is True
    await db.refresh(job)
    assert job.status == JobStatus.queued and job.attempts == 0 and job.worker_id is None
    assert await queue.release(db, job.id, "w1", 1) is False


async def test_finish_hook_runs_in_the_ending_transaction(db, developer, settings, monkeypatch):
    seen = []

    async def hook(session, job):
        seen.append((job.id, job.status, job.on_finish_data))

    async def broken(session, job):
        raise RuntimeError("boom")

    registry = JobHooks()
    registry.register(JobHook("test_hook", hook))
    registry.register(JobHook("broken_hook", broken))
    monkeypatch.setattr(hooks, "registry", registry)  # this test's hooks, not the process's
    state = service.ExecutorState(True, None, "")
    job = await service.submit_job(
        db,
        settings,
        state,
        developer,
        JobCreate(source="x"),
        on_finish="test_hook",
        on_finish_data={"bug_id": 7},
    )
    await service.cancel_job(db, developer, job.id)
    assert seen == [(job.id, JobStatus.cancelled, {"bug_id": 7})]
    other = await service.submit_job(
        db, settings, state, developer, JobCreate(source="x"), on_finish="broken_hook"
    )
    ended = await service.cancel_job(db, developer, other.id)
    assert ended.status == JobStatus.cancelled  # a failing hook does not undo the end
    unknown = await service.submit_job(
        db, settings, state, developer, JobCreate(source="x"), on_finish="nobody"
    )
    assert (await service.cancel_job(db, developer, unknown.id)).status == JobStatus.cancelled


async def test_output_files_are_stored_and_served_as_attachments(client, developer, db):
    job = await _queued(db, developer)
    await queue.claim_next(db, "w1", 30)
    files = [OutputFile.of("out/résumé.txt", b"hello"), OutputFile.of("a.csv", b"1,2")]
    result = RunResult(outcome=Outcome.SUCCEEDED, exit_code=0, files=files)
    await queue.finish_run(db, job.id, "w1", 1, result, notify_after_s=10)
    await db.commit()
    listed = await client.get(f"{JOBS}/{job.id}/files", headers=auth_headers(developer))
    assert [f["path"] for f in listed.json()["items"]] == ["a.csv", "out/résumé.txt"]
    first = await client.get(
        f"{JOBS}/{job.id}/files", params={"limit": 1}, headers=auth_headers(developer)
    )
    assert [f["path"] for f in first.json()["items"]] == ["a.csv"]
    rest = await client.get(
        f"{JOBS}/{job.id}/files",
        params={"limit": 1, "cursor": first.json()["next_cursor"]},
        headers=auth_headers(developer),
    )
    assert [f["path"] for f in rest.json()["items"]] == ["out/résumé.txt"]
    assert rest.json()["next_cursor"] is None
    r = await client.get(f"{JOBS}/{job.id}/files/out/résumé.txt", headers=auth_headers(developer))
    assert r.status_code == 200 and r.content == b"hello"
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"] == (
        "attachment; filename=\"r?sum?.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"
    )
    assert r.headers["x-content-type-options"] == "nosniff"
    missing = await client.get(f"{JOBS}/{job.id}/files/nope", headers=auth_headers(developer))
    assert missing.status_code == 404 and missing.json()["code"] == "job_file_not_found"
    read = (await client.get(f"{JOBS}/{job.id}", headers=auth_headers(developer))).json()
    assert read["files"][1] == {"path": "out/résumé.txt", "size": 5, "sha256": files[0].sha256}
    assert (await db.scalars(select(JobFile))).all()


async def test_a_page_of_jobs_stops_once_its_output_reaches_the_budget(
    client, developer, db, monkeypatch
):
    """limit=200 jobs of 2 MB output each would be one 400 MB answer: a page ends early instead
    (next_cursor set), always holding one job at least, every job's output whole."""
    outputs = ["a" * 600, "b" * 300, "c" * 2000, "d" * 10]
    for text in outputs:  # oldest first; the list is newest first
        job = await _queued(db, developer)
        await queue.claim_next(db, "w1", 30)
        result = RunResult(outcome=Outcome.SUCCEEDED, exit_code=0, stdout=text)
        await queue.finish_run(db, job.id, "w1", 1, result, notify_after_s=10)
        await db.commit()
    monkeypatch.setattr(service, "LIST_OUTPUT_BUDGET", 1000)
    pages, params = [], {"limit": 200}
    while True:
        page = (await client.get(JOBS, params=params, headers=auth_headers(developer))).json()
        pages.append([job["stdout"] for job in page["items"]])
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    # 10 + 2000 > 1000 after the first; 2000 alone is over but a page holds one at least
    assert pages == [["d" * 10], ["c" * 2000], ["b" * 300, "a" * 600]]
    monkeypatch.setattr(service, "LIST_OUTPUT_BUDGET", 10_000)
    whole = (await client.get(JOBS, headers=auth_headers(developer))).json()
    assert [job["stdout"] for job in whole["items"]] == outputs[::-1]
    assert whole["next_cursor"] is None
