"""`POST /jobs?wait=N` with a retried Idempotency-Key: the replay waits for the job it names."""

from __future__ import annotations

import pytest

from tests.conftest import auth_headers
from tests.jobs.fixtures import JOBS

pytestmark = [pytest.mark.docker, pytest.mark.slow]


async def submit(live, user, body, key, **params):
    headers = {**auth_headers(user), "Idempotency-Key": key}
    return await live.client.post(JOBS, json=body, params=params, headers=headers)


async def test_a_replay_of_a_running_job_waits_for_its_end(live):
    dev = await live.user()
    body = {"source": "import time; time.sleep(2); print('done')"}
    first = await submit(live, dev, body, "slow-1")
    assert first.status_code == 202, first.text

    again = await submit(live, dev, body, "slow-1", wait=20)

    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    job = again.json()
    assert job["id"] == first.json()["id"]
    assert job["status"] == "succeeded" and job["stdout"] == "done\n"


async def test_a_replay_of_a_finished_job_answers_it_at_once(live):
    dev = await live.user()
    body = {"source": "print(7)"}
    first = await submit(live, dev, body, "done-1", wait=20)
    assert first.status_code == 200, first.text

    again = await submit(live, dev, body, "done-1", wait=20)

    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and again.json()["stdout"] == "7\n"


async def test_a_replay_without_wait_is_202_with_the_job_as_stored(live):
    dev = await live.user()
    body = {"source": "print(8)"}
    first = await submit(live, dev, body, "done-2", wait=20)
    assert first.status_code == 200, first.text

    again = await submit(live, dev, body, "done-2")

    assert again.status_code == 202
    assert again.json()["status"] == "succeeded" and again.json()["stdout"] == "8\n"
