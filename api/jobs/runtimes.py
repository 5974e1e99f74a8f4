"""The runtimes a job may ask for: ``python`` (standard library) and ``python-sci``.

``python-sci`` runs in its own image (`SCI_TAG`, built by ``nimbus sandbox build --runtime
python-sci``) whose label lists its Debian packages and versions. On bubblewrap, jobs run the
host's ``/usr/bin/python3``: ``python-sci`` is available there only when the host's python imports
every module of it (``apt-get install python3-numpy python3-pandas python3-matplotlib
python3-scipy python3-pytest``); the versions are then the host's, read with ``dpkg-query``.
What is found is kept for `CACHE_S` so that listing runtimes or submitting a job stays cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import aiodocker

from api.errors import ServiceUnavailable, UnprocessableEntity
from executor.backends import BwrapBackend, DockerBackend, SandboxBackend
from executor.image.build import PACKAGES_LABEL, SCI_PACKAGES, SCI_TAG

PYTHON = "python"
PYTHON_SCI = "python-sci"
NAMES = (PYTHON, PYTHON_SCI)
SCI_MODULES = ("numpy", "pandas", "matplotlib", "scipy", "pytest")
DESCRIPTIONS = {
    PYTHON: "Python 3 with the standard library; no network",
    PYTHON_SCI: (
        "Python 3 with numpy, pandas, matplotlib (Agg backend: savefig writes output files), "
        "scipy and pytest from Debian's packages; no network"
    ),
}
BUILD_SCI = "nimbus sandbox build --runtime python-sci"
CACHE_S = 10.0


class UnknownRuntime(UnprocessableEntity):
    code = "unknown_runtime"
    title = "No such runtime"


class RuntimeUnavailable(ServiceUnavailable):
    code = "runtime_unavailable"
    title = "This runtime cannot run jobs here yet"


@dataclass(frozen=True)
class Probe:
    available: bool
    reason: str | None = None
    packages: dict[str, str] = field(default_factory=dict)


_cache: dict[tuple[int, str], tuple[float, Probe]] = {}


def image_of(runtime: str) -> str | None:
    """The Docker image of ``runtime``; None: the backend's own (the ``python`` image)."""
    return SCI_TAG if runtime == PYTHON_SCI else None


def check_name(runtime: str) -> None:
    if runtime not in NAMES:
        raise UnknownRuntime(
            f"Unknown runtime {runtime!r}; the runtimes are: {', '.join(NAMES)}",
            extra={"runtimes": list(NAMES)},
        )


async def probe(backend: SandboxBackend | None, runtime: str) -> Probe:
    """Whether ``backend`` can run ``runtime`` now, and the runtime's package versions."""
    if backend is None:
        return Probe(True)  # no backend here (external workers): they decide
    key = (id(backend), runtime)
    now = time.monotonic()
    cached = _cache.get(key)
    if cached is not None and now - cached[0] < CACHE_S:
        return cached[1]
    if isinstance(backend, DockerBackend):
        found = await _docker_probe(backend, runtime)
    elif isinstance(backend, BwrapBackend):
        found = await _host_probe(backend.python, runtime)
    else:
        found = Probe(runtime == PYTHON, None if runtime == PYTHON else "not on this backend")
    _cache[key] = (now, found)
    return found


async def require(backend: SandboxBackend | None, runtime: str) -> None:
    """422 for an unknown runtime, 503 with the fix for one that cannot run here."""
    check_name(runtime)
    found = await probe(backend, runtime)
    if not found.available:
        raise RuntimeUnavailable(f"Runtime {runtime!r} is not available: {found.reason}")


async def _docker_probe(backend: DockerBackend, runtime: str) -> Probe:
    tag = image_of(runtime) or backend.image
    try:
        info = await backend.docker.images.inspect(tag)
    except aiodocker.DockerError:
        fix = BUILD_SCI if runtime == PYTHON_SCI else "nimbus sandbox build"
        return Probe(False, f"its image {tag} is not built: run `{fix}`")
    labels = (info.get("Config") or {}).get("Labels") or {}
    items = [item.partition("=") for item in str(labels.get(PACKAGES_LABEL, "")).split(",")]
    packages = {name: version for name, _, version in items if name}
    if not packages:  # an image built before the label existed: read its dpkg database once
        key = str(info.get("Id") or tag)
        if key not in _image_packages:
            _image_packages[key] = await _dpkg_status(backend, tag)
        packages = _image_packages[key]
    return Probe(True, packages=packages)


_image_packages: dict[str, dict[str, str]] = {}


async def _dpkg_status(backend: DockerBackend, tag: str) -> dict[str, str]:
    """``python3.11``'s version from the image's ``/var/lib/dpkg/status`` (a created, never
    started container, deleted at once); empty when it cannot be read."""
    try:
        container = await backend.docker.containers.create(
            {"Image": tag, "Cmd": ["true"], "NetworkDisabled": True, "Labels": backend.labels()}
        )
    except aiodocker.DockerError:
        return {}
    try:
        archive = await container.get_archive("/var/lib/dpkg/status")
        member = archive.extractfile("status")
        text = member.read().decode(errors="replace") if member is not None else ""
    except (aiodocker.DockerError, KeyError):
        text = ""
    finally:
        with contextlib.suppress(aiodocker.DockerError):
            await container.delete(force=True)
    found: dict[str, str] = {}
    for stanza in text.split("\n\n"):
        fields = dict(line.partition(": ")[::2] for line in stanza.splitlines() if ": " in line)
        if fields.get("Package") == "python3.11" and "Version" in fields:
            found["python3.11"] = fields["Version"]
    return found


async def _host_probe(python: str, runtime: str) -> Probe:
    packages = ("python3.11",) if runtime == PYTHON else ("python3.11", *SCI_PACKAGES[1:])
    if runtime == PYTHON_SCI:
        proc = await asyncio.create_subprocess_exec(
            python,
            "-c",
            f"import {', '.join(SCI_MODULES)}",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        if proc.returncode != 0:
            last = err.decode(errors="replace").strip().splitlines()[-1:] or ["import failed"]
            return Probe(
                False,
                f"bubblewrap runs the host's {python}, which lacks it ({last[0]}): apt-get "
                f"install {' '.join(SCI_PACKAGES[1:])}, or use the Docker sandbox and "
                f"`{BUILD_SCI}`",
            )
    proc = await asyncio.create_subprocess_exec(
        "dpkg-query",
        "-W",
        "-f=${Package}=${Version}\\n",
        *packages,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await proc.communicate()
    items = [line.partition("=") for line in out.decode(errors="replace").split()]
    return Probe(True, packages={name: version for name, _, version in items if version})
