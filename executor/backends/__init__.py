"""Sandbox backends and the choice between them: Docker if an engine answers, else bubblewrap."""

from __future__ import annotations

import logging
import shutil
from typing import Literal

import aiodocker
import aiohttp

from executor.backends.base import (
    DEFAULT_LIMITS,
    MAX_LIMITS,
    ExecutorUnavailable,
    InvalidJob,
    JobSpec,
    Limits,
    Outcome,
    OutputFile,
    OutputSink,
    RunResult,
    SandboxBackend,
)
from executor.backends.bwrap import BwrapBackend
from executor.backends.docker import DockerBackend, api_call, open_docker, reap_sandboxes
from executor.image.build import DEFAULT_TAG

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_LIMITS",
    "BackendKind",
    "BwrapBackend",
    "DockerBackend",
    "ExecutorUnavailable",
    "InvalidJob",
    "JobSpec",
    "Limits",
    "Outcome",
    "OutputFile",
    "OutputSink",
    "RunResult",
    "SandboxBackend",
    "docker_answers",
    "reap_sandboxes",
    "select_backend",
]

log = logging.getLogger(__name__)
BackendKind = Literal["auto", "docker", "bwrap", "off"]


async def docker_answers(docker_host: str | None, timeout_s: float = 2.0) -> bool:
    """True when a Docker engine responds at ``docker_host`` (None: the default socket)."""
    try:
        async with open_docker(docker_host) as docker:
            await api_call(docker.version(), timeout_s)
    except (
        ExecutorUnavailable,
        aiodocker.DockerError,
        TimeoutError,
        aiohttp.ClientError,
        OSError,
        ValueError,
    ):
        return False
    return True


async def select_backend(
    kind: BackendKind,
    docker_host: str | None = None,
    image: str = DEFAULT_TAG,
    pool_size: int = 0,
    instance: str | None = None,
) -> SandboxBackend | None:
    """The backend for setting ``NIMBUS_EXECUTOR_BACKEND``; None means "executor unavailable".

    ``auto``: Docker if an engine answers, else bubblewrap if installed, else None. An explicit
    ``docker`` or ``bwrap`` is returned even when unusable, so that ``await backend.check()``
    raises `ExecutorUnavailable` with the fix. Call ``check()`` before the first job: for Docker
    it also verifies the image and starts the warm pool. ``instance`` labels Docker sandboxes
    with the installation (see `DockerBackend`).
    """
    if kind == "off":
        return None
    if kind == "docker":
        return DockerBackend(docker_host, image, pool_size=pool_size, instance=instance)
    if kind == "bwrap":
        return BwrapBackend()
    if await docker_answers(docker_host):
        return DockerBackend(docker_host, image, pool_size=pool_size, instance=instance)
    if shutil.which("bwrap") is not None:
        log.warning("no Docker engine answers; falling back to the weaker bubblewrap sandbox")
        return BwrapBackend()
    return None
