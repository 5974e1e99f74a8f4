"""Every run keeps what it ran: `GET /jobs/{id}` returns the source or the input files as
submitted, stdin and args, so the web app can show the code and run it again (issue 24)."""

from __future__ import annotations

import base64
import uuid

import pytest
from sqlalchemy import func, select

from api.db import utcnow
from api.jobs import repository
from api.models import Job, Role
from tests.conftest import auth_headers

JOBS = "/api/v1/jobs"
INPUT_KEYS = {"source", "input_files", "stdin"}


@pytest.fixture
def settings(settings):
    """Workers run elsewhere: jobs are accepted and stay queued."""
    return settings.model_copy(
        update={"executor_in_process": False, "job_submit_rate_per_minute": 100}
    )


async def submit(client, user, body):
    r = await client.post(JOBS, json=body, headers=auth_headers(user))
    assert r.status_code == 202, r.text
    return r.json()


async def read(client, user, job_id):
    r = await client.get(f"{JOBS}/{job_id}", headers=auth_headers(user))
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_source_job_returns_its_source_stdin_and_args(client, developer):
    body = {"source": "import sys\nprint(input(), sys.argv[1:])", "stdin": "héllo\n"}
    job = await submit(client, developer, {**body, "args": ["-v", "x y"]})
    got = await read(client, developer, job["id"])
    assert got["source"] == body["source"] and got["input_files"] is None
    assert got["stdin"] == "héllo\n" and got["args"] == ["-v", "x y"]
    assert got["entrypoint"] == "main.py" and got["runtime"] == "python"
    assert got["origin"] is None


async def test_a_files_job_returns_its_files_and_runs_again_the_same(client, developer, db):
    files = [
        {"path": "app/run.py", "content": "import data"},
        {
            "path": "data.bin",
            "content": base64.b64encode(b"\x00\xff").decode(),
            "encoding": "base64",
        },
    ]
    job = await submit(client, developer, {"files": files, "entrypoint": "app/run.py"})
    got = await read(client, developer, job["id"])
    assert got["source"] is None
    assert got["input_files"] == [
        {"path": "app/run.py", "content": "import data", "encoding": "utf8", "size": 11},
        {"path": "data.bin", "content": "AP8=", "encoding": "base64", "size": 2},
    ]
    again = {
        "files": [{k: f[k] for k in ("path", "content", "encoding")} for f in got["input_files"]],
        "entrypoint": got["entrypoint"],
        "stdin": got["stdin"],
        "args": got["args"],
        "runtime": got["runtime"],
    }
    rerun = await submit(client, developer, again)
    first = await db.get(Job, uuid.UUID(job["id"]))
    second = await db.get(Job, uuid.UUID(rerun["id"]))
    assert first.input_files == second.input_files and first.entrypoint == second.entrypoint


async def test_one_file_that_is_not_utf8_comes_back_as_a_file(client, developer):
    content = base64.b64encode(b"print(1) # \xff").decode()
    job = await submit(
        client,
        developer,
        {"files": [{"path": "main.py", "content": content, "encoding": "base64"}]},
    )
    got = await read(client, developer, job["id"])
    assert got["source"] is None
    assert got["input_files"] == [
        {"path": "main.py", "content": content, "encoding": "base64", "size": 12}
    ]


async def test_lists_stay_light_without_the_input(client, developer):
    await submit(client, developer, {"source": "x = 1\n" * 1000, "stdin": "in"})
    listed = (await client.get(JOBS, headers=auth_headers(developer))).json()["items"]
    assert listed and not INPUT_KEYS & set(listed[0])


async def test_a_reproduction_says_so_and_names_its_bug(client, admin, developer):
    h = auth_headers(admin)
    await client.post("/api/v1/projects", json={"key": "KEEP", "name": "Keep"}, headers=h)
    await client.put(f"/api/v1/projects/KEEP/members/{developer.id}", headers=h)
    bug = {"title": "Crashes", "repro_script": "raise SystemExit(1)"}
    bug = (await client.post("/api/v1/projects/KEEP/bugs", json=bug, headers=h)).json()
    r = await client.post(
        f"/api/v1/bugs/{bug['id']}/reproductions", headers=auth_headers(developer)
    )
    assert r.status_code == 202, r.text
    got = await read(client, developer, r.json()["id"])
    assert got["origin"] == {"kind": "bug_reproduction", "bug_id": bug["id"]}
    assert got["source"] == "raise SystemExit(1)"
    listed = (await client.get(JOBS, headers=auth_headers(developer))).json()["items"]
    assert listed[0]["origin"] == {"kind": "bug_reproduction", "bug_id": bug["id"]}


async def test_a_purged_job_has_no_input_left(client, developer, db):
    job = await submit(client, developer, {"source": "print(1)", "stdin": "x"})
    await repository.purge(db, [uuid.UUID(job["id"])], "retention", utcnow())
    await db.commit()
    got = await read(client, developer, job["id"])
    assert got["source"] is None and got["input_files"] is None and got["stdin"] == ""
    assert got["purged_at"] is not None


async def test_others_cannot_read_the_source(client, developer, make_user):
    job = await submit(client, developer, {"source": "SECRET = 1"})
    other = await make_user(Role.developer)
    r = await client.get(f"{JOBS}/{job['id']}", headers=auth_headers(other))
    assert r.status_code == 404 and "SECRET" not in r.text


async def _job_count(db) -> int:
    return (await db.scalar(select(func.count()).select_from(Job))) or 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        # the stored source counts against the same cap as files and stdin
        (lambda cap: {"source": "x" * (cap + 1)}, 413, "job_too_large"),
        (
            lambda cap: {"source": "x" * (cap // 2), "stdin": "y" * (cap // 2 + 1)},
            413,
            "job_too_large",
        ),
        (
            lambda cap: {
                "files": [
                    {"path": "main.py", "content": "x" * (cap // 2)},
                    {"path": "big.txt", "content": "y" * (cap // 2 + 1)},
                ]
            },
            413,
            "job_too_large",
        ),
        (
            lambda cap: {
                "files": [{"path": "main.py", "content": ""}]
                + [{"path": f"f{i}.txt", "content": ""} for i in range(100)]
            },
            422,
            "validation_error",
        ),
        (lambda cap: {"source": "x", "runtime": "ruby"}, 422, "unknown_runtime"),
        (lambda cap: {"source": "x", "stdin": 5}, 422, "validation_error"),
        (lambda cap: {"source": "x", "args": "-v"}, 422, "validation_error"),
    ],
)
async def test_input_over_the_caps_or_malformed_is_refused_and_stores_nothing(
    client, developer, db, settings, body, status, code
):
    before = await _job_count(db)
    r = await client.post(
        JOBS, json=body(settings.job_max_request_bytes), headers=auth_headers(developer)
    )
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == code
    assert await _job_count(db) == before


async def test_runtimes_say_the_input_caps(client, developer, settings):
    r = await client.get("/api/v1/runtimes", headers=auth_headers(developer))
    python = r.json()["items"][0]
    assert python["max_input_bytes"] == settings.job_max_request_bytes
    assert python["max_input_files"] == 100
