"""Fixtures for the sandbox tests: a real Docker engine (started here if none answers).

A plugin of the root conftest, so tests/security shares these backends."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest

from executor.backends import BwrapBackend, DockerBackend, SandboxBackend
from tests.executor.docker_engine import Engine

POOL_SIZE = 2


BACKENDS = [
    pytest.param("docker", marks=pytest.mark.docker),
    pytest.param("pool", marks=pytest.mark.docker),
    "bwrap",
]


@pytest.fixture(scope="session")
async def docker_backend(docker_engine: Engine) -> AsyncIterator[DockerBackend]:
    backend = DockerBackend(docker_engine.docker_host, docker_engine.image)
    await backend.check()
    yield backend
    await backend.close()


@pytest.fixture(scope="session")
async def pool_backend(docker_engine: Engine) -> AsyncIterator[DockerBackend]:
    backend = DockerBackend(docker_engine.docker_host, docker_engine.image, pool_size=POOL_SIZE)
    await backend.check()
    yield backend
    await backend.close()


@pytest.fixture(scope="session")
async def bwrap_backend() -> AsyncIterator[BwrapBackend]:
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap is not installed: apt-get install bubblewrap", pytrace=False)
    backend = BwrapBackend()
    await backend.check()
    yield backend
    await backend.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> SandboxBackend:
    """Every backend, for the behaviour all of them must share (use `run_job` with it)."""
    chosen: SandboxBackend = request.getfixturevalue(f"{request.param}_backend")
    return chosen


@pytest.fixture(scope="session")
def sci_image(docker_engine: Engine) -> str:
    """The python-sci image, built once (minutes, offline) only for the tests that need it;
    an engine that has the tag already (``~/.cache/nimbus`` keeps the rootfs too) skips it."""
    from executor.image.build import build_sci_image

    return build_sci_image(docker_engine.docker_host)
