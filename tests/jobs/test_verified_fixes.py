"""Fixes are verified on the real Docker engine: a fix the reproduction contradicts goes back to
work, and closing a fixed bug that still reproduces needs an admin and a comment."""

from __future__ import annotations

import pytest

from api.models import BugStatus, Role
from tests.conftest import auth_headers
from tests.jobs.test_reproductions import FINAL, _bug, _cleanup, _settled

pytestmark = [pytest.mark.docker, pytest.mark.slow]

FAILS = "import sys\nprint('total is 9, expected 10')\nsys.exit(1)"


async def _transition(live, user, bug_id: int, **body) -> dict:
    r = await live.client.post(
        f"/api/v1/bugs/{bug_id}/transitions", json=body, headers=auth_headers(user)
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_fix_that_does_not_fix_goes_back_to_in_progress(live):
    try:
        admin, dev, bug = await _bug(live, FAILS)
        await _transition(live, dev, bug["id"], to="in_progress")  # takes it: the assignee
        resolved = await _transition(live, dev, bug["id"], to="resolved", resolution="fixed")
        assert (resolved["status"], resolved["verdict"]) == ("resolved", "running")
        await live.wait_status(resolved["repro_job_id"], *FINAL, timeout_s=60)

        stored = await _settled(live, bug["id"])
        assert (stored.status, stored.resolution) == (BugStatus.in_progress, None)
        assert stored.verdict == "reproduces"
        h = auth_headers(dev)
        history = (await live.client.get(f"/api/v1/bugs/{bug['id']}/activity", headers=h)).json()
        assert any(
            a["new"]
            == f"Fix not verified: the reproduction still fails (job {resolved['repro_job_id']})"
            for a in history["items"]
        )
        for person in (admin, dev):  # the reporter watches, the developer is assigned
            inbox = await live.client.get("/api/v1/notifications", headers=auth_headers(person))
            assert "bug.fix_not_verified" in [n["kind"] for n in inbox.json()["items"]]
        runs = (await live.client.get(f"/api/v1/bugs/{bug['id']}/reproductions", headers=h)).json()
        [run] = runs["items"]
        assert (run["verdict"], run["exit_code"], run["job_id"]) == (
            "reproduces",
            1,
            resolved["repro_job_id"],
        )
        assert run["duration_ms"] is not None and run["finished_at"] is not None
        job = (await live.client.get(f"/api/v1/jobs/{run['job_id']}", headers=h)).json()
        assert (run["cpu_ms"], run["peak_memory_bytes"], run["build_id"]) == (
            job["cpu_time_ms"],
            job["peak_memory_bytes"],
            None,
        )
        assert run["peak_memory_bytes"] is not None  # copied from the job that measured it
    finally:
        await _cleanup(live)


async def test_closing_while_it_still_reproduces_needs_an_admin_and_a_comment(live):
    try:
        admin, dev, bug = await _bug(live, "print('fixed')")
        tester = await live.user(Role.tester)
        h = auth_headers(admin)
        key = bug["key"].split("-")[0]
        await live.client.put(f"/api/v1/projects/{key}/members/{tester.id}", headers=h)
        await _transition(live, dev, bug["id"], to="in_progress")
        resolved = await _transition(live, dev, bug["id"], to="resolved", resolution="fixed")
        await live.wait_status(resolved["repro_job_id"], *FINAL, timeout_s=60)
        assert (await _settled(live, bug["id"])).status == BugStatus.resolved  # verified
        # the script is sharpened and run again: the bug still reproduces after all
        r = await live.client.patch(
            f"/api/v1/bugs/{bug['id']}", json={"repro_script": FAILS}, headers=h
        )
        assert r.status_code == 200, r.text
        r = await live.client.post(f"/api/v1/bugs/{bug['id']}/reproductions", headers=h)
        await live.wait_status(r.json()["id"], *FINAL, timeout_s=60)
        assert (await _settled(live, bug["id"])).verdict == "reproduces"

        url = f"/api/v1/bugs/{bug['id']}/transitions"
        r = await live.client.post(url, json={"to": "closed"}, headers=auth_headers(tester))
        assert r.status_code == 409 and r.json()["code"] == "still_reproduces", r.text
        closed = await _transition(
            live, admin, bug["id"], to="closed", comment="The script checks a retired API."
        )
        assert closed["status"] == "closed"
        history = (await live.client.get(f"/api/v1/bugs/{bug['id']}/activity", headers=h)).json()
        assert [a["actor"]["id"] for a in history["items"] if a["field"] == "verdict_override"] == [
            admin.id
        ]
        runs = (await live.client.get(f"/api/v1/bugs/{bug['id']}/reproductions", headers=h)).json()
        assert [r["verdict"] for r in runs["items"]] == ["reproduces", "does_not_reproduce"]
    finally:
        await _cleanup(live)
