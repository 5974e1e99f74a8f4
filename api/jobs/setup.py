"""Getting a working sandbox on this machine: what `make run` does before `nimbus serve`.

`prepare` picks the sandbox the server will pick (the same settings, the same order) and makes it
usable: with a Docker engine answering it builds the runtime image when missing (the offline
debootstrap build, its progress told line by line); otherwise bubblewrap, which it checks. What
it cannot do itself — install Debian packages — it names, so that `.ci/bootstrap.sh` installs
them with apt and asks again.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass, field

from api.config import Settings
from api.jobs.runtime import SWITCHED_OFF, WEAKER_SANDBOX
from executor.backends import BwrapBackend, ExecutorUnavailable, docker_answers
from executor.image import ImageBuildError, build_image
from executor.image.build import Progress, image_exists


@dataclass
class Prepared:
    """``ok``: jobs will run (``sandbox`` says on what); else ``missing`` lists the Debian
    packages to install before asking again, or ``message`` says what is wrong."""

    ok: bool
    sandbox: str | None
    message: str
    missing: list[str] = field(default_factory=list)


def prepare(settings: Settings, progress: Progress) -> Prepared:
    if not settings.executor_in_process:
        return Prepared(True, None, "jobs run on separate workers (`nimbus worker`)")
    if settings.executor_backend == "off":
        return Prepared(True, None, SWITCHED_OFF)
    where = settings.docker_host or "the default socket"
    docker_problem = None
    if settings.executor_backend in ("auto", "docker"):
        if asyncio.run(docker_answers(settings.docker_host)):
            try:
                return _docker(settings, where, progress)
            except ImageBuildError as exc:
                docker_problem = f"the sandbox image could not be built: {exc}"
                if settings.executor_backend == "docker":
                    return Prepared(False, None, docker_problem)
                progress(f"{docker_problem}; trying bubblewrap instead")
        elif settings.executor_backend == "docker":
            return Prepared(
                False,
                None,
                f"no Docker engine answers at {where}: start dockerd or set NIMBUS_DOCKER_HOST",
            )
    return _bwrap(docker_problem)


def _docker(settings: Settings, where: str, progress: Progress) -> Prepared:
    tag = settings.sandbox_image
    message = f"Docker, the engine at {where}, image {tag}"
    if image_exists(tag, settings.docker_host):
        return Prepared(True, "docker", message)
    # The offline build (no registry here) needs debootstrap, as root.
    if shutil.which("debootstrap") is None and os.geteuid() == 0:
        return Prepared(False, None, "debootstrap is needed to build the image", ["debootstrap"])
    build_image(settings.docker_host, tag, progress=progress)
    return Prepared(True, "docker", message + " (built)")


def _bwrap(docker_problem: str | None) -> Prepared:
    if shutil.which("bwrap") is None:
        message = docker_problem or "no Docker engine answers and bubblewrap is not installed"
        return Prepared(False, None, message, ["bubblewrap"])

    async def check() -> None:
        backend = BwrapBackend()
        try:
            await backend.check()
        finally:
            await backend.close()

    try:
        asyncio.run(check())
    except ExecutorUnavailable as exc:
        return Prepared(False, None, str(exc))
    message = f"bubblewrap. {WEAKER_SANDBOX}"
    if docker_problem is not None:
        message += f". Docker was not used: {docker_problem}"
    return Prepared(True, "bwrap", message)
