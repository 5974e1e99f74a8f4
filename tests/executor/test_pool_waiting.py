"""When a job waits for the warm pool's refill, and when it must not (no engine needed: the
containers the pool would start are replaced by ones that never come)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import aiodocker
import pytest

from executor.backends.base import DEFAULT_LIMITS, JobSpec
from executor.backends.docker import Sandbox, WarmPool

SPEC = JobSpec(files={"main.py": b"print(1)"})


def pool_of(size: int) -> WarmPool:
    backend: Any = SimpleNamespace(
        docker=None, image="nimbus-sandbox:test", retire=lambda _sandbox: None, labels=dict
    )
    return WarmPool(backend, size, DEFAULT_LIMITS)


async def until(condition: Any) -> None:
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110 - polling the pool's state
            await asyncio.sleep(0.01)


@pytest.fixture(autouse=True)
def patient(monkeypatch: pytest.MonkeyPatch) -> None:
    """Long enough that a job waiting it out would fail these tests' 10 s bounds."""
    monkeypatch.setattr("executor.backends.docker.pool.TAKE_WAIT_S", 60.0)


async def test_a_job_does_not_wait_for_a_pool_whose_engine_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def engine_down(*_: Any) -> Sandbox:
        raise aiodocker.DockerError(500, {"message": "Cannot connect to the Docker daemon"})

    monkeypatch.setattr(Sandbox, "create", staticmethod(engine_down))
    pool = pool_of(2)
    await pool.start(wait=False)
    try:
        await until(lambda: pool._fill_failed)
        async with asyncio.timeout(10):
            assert await pool.take(SPEC) == (None, b"")  # a one-shot container is tried instead
    finally:
        await pool.close()


async def test_closing_the_pool_releases_jobs_waiting_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def never(*_: Any) -> Sandbox:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    monkeypatch.setattr(Sandbox, "create", staticmethod(never))
    pool = pool_of(2)
    await pool.start(wait=False)
    await until(lambda: pool._in_flight > 0)
    waiting = [asyncio.create_task(pool.take(SPEC)) for _ in range(3)]
    await until(lambda: pool._waiting == 2)  # no more waiters than the pool holds
    third = next(task for task in waiting if task.done())
    assert third.result() == (None, b"")
    await pool.close()
    async with asyncio.timeout(10):
        assert await asyncio.gather(*waiting) == [(None, b"")] * 3
    assert pool._waiting == 0
