"""Build the sandbox runtime image: `docker build` where a registry answers, else offline.

The offline path makes a Debian bookworm minbase rootfs with debootstrap from the host's own apt
mirror, adds python3, strips every setuid/setgid bit, packs it as a tarball cached under
``~/.cache/nimbus`` (or ``$XDG_CACHE_HOME/nimbus``) and feeds it to ``docker import``. Building is
skipped when the tag already exists. The image runs as uid 65534 and contains no compiler or sudo.

Run it as ``python -m executor.image.build [--docker-host unix:///...] [--tag ...]``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

DEFAULT_TAG = "nimbus-sandbox:py3-r2"
"""Bump the ``-rN`` suffix (and ``RECIPE``) whenever the image's content changes: an engine that
has the tag skips the build, so a changed recipe needs a new tag."""
RECIPE = 2
IMAGE_DIR = Path(__file__).resolve().parent
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# Packages beyond minbase; python3 pulls in the full standard library (python3.11).
EXTRA_PACKAGES = ("python3",)
SCI_TAG = "nimbus-sandbox:py3-sci-r2"
"""The ``python-sci`` runtime: the same offline build with Debian's scientific packages."""
SCI_PACKAGES = (
    "python3",
    "python3-numpy",
    "python3-pandas",
    "python3-matplotlib",
    "python3-scipy",
    "python3-pytest",
)
# matplotlib draws without a display and caches fonts in the writable /tmp tmpfs.
SCI_ENV = ("MPLBACKEND=Agg", "MPLCONFIGDIR=/tmp/matplotlib")
PACKAGES_LABEL = "org.nimbus.packages"
"""Image label: the runtime's Debian packages and versions, ``name=version`` comma-separated."""
# Removed after install: nothing in the sandbox needs a package manager or login tooling.
PRUNE_PATHS = ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man")


Progress = Callable[[str], None]
"""Told each line of a long build step as it happens (``nimbus sandbox`` prints them)."""


class ImageBuildError(RuntimeError):
    """The runtime image could not be built; the message says what to install or fix."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "nimbus"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _docker(
    docker_host: str | None, *args: str, **kwargs: object
) -> subprocess.CompletedProcess[bytes]:
    docker = shutil.which("docker")
    if docker is None:
        raise ImageBuildError("the docker CLI is missing: apt-get install docker.io")
    cmd = [docker] + (["-H", docker_host] if docker_host else []) + list(args)
    return subprocess.run(cmd, check=False, capture_output=True, **kwargs)  # type: ignore[call-overload, no-any-return]  # noqa: S603


def image_exists(tag: str, docker_host: str | None = None) -> bool:
    return _docker(docker_host, "image", "inspect", tag, timeout=60).returncode == 0


def _apt_mirror() -> str:
    """The Debian mirror the host's apt already uses (deb822 or one-line format)."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for source in sources:
        try:
            text = source.read_text()
        except OSError:
            continue
        for match in re.finditer(r"(https?://\S+/debian)(?:\s|$)", text):
            return match.group(1)
    return DEFAULT_MIRROR


def _registry_reachable(timeout_s: float = 2.0) -> bool:
    try:
        with socket.create_connection(("registry-1.docker.io", 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def _run(cmd: list[str], what: str, timeout_s: float, progress: Progress | None = None) -> None:
    if progress is None:
        proc = subprocess.run(cmd, check=False, capture_output=True, timeout=timeout_s)  # noqa: S603
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).decode(errors="replace")[-2000:]
            raise ImageBuildError(f"{what} failed ({proc.returncode}): {tail}")
        return
    # Line by line as it runs (debootstrap takes minutes), killed past the timeout.
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as live:  # noqa: S603
        killer = threading.Timer(timeout_s, live.kill)
        killer.start()
        last: list[str] = []
        try:
            assert live.stdout is not None
            for raw in live.stdout:
                line = raw.decode(errors="replace").rstrip()
                progress(line)
                last = [*last[-29:], line]
        finally:
            killer.cancel()
        if live.wait() != 0:
            raise ImageBuildError(f"{what} failed ({live.returncode}): " + "\n".join(last))


def _tarball_name(packages: tuple[str, ...]) -> str:
    if packages == EXTRA_PACKAGES:
        return f"rootfs-{SUITE}-python3-r{RECIPE}.tar"
    return f"rootfs-{SUITE}-{SCI_TAG.partition(':')[2]}.tar"


def build_rootfs_tarball(
    mirror: str | None = None,
    progress: Progress | None = None,
    packages: tuple[str, ...] = EXTRA_PACKAGES,
) -> Path:
    """Create (or reuse) the cached rootfs tarball and return its path."""
    tarball = cache_dir() / _tarball_name(packages)
    if tarball.exists():
        if progress is not None:
            progress(f"reusing the cached rootfs {tarball}")
        return tarball
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise ImageBuildError("debootstrap is missing: apt-get install debootstrap")
    if os.geteuid() != 0:
        raise ImageBuildError("debootstrap needs root to build the sandbox rootfs")
    with tempfile.TemporaryDirectory(prefix="nimbus-rootfs-", dir=cache_dir()) as tmp:
        root = Path(tmp) / "rootfs"
        if progress is not None:
            progress(f"debootstrap: a Debian {SUITE} rootfs with python3 (a few minutes)")
        _run(
            [
                debootstrap,
                "--variant=minbase",
                f"--include={','.join(packages)}",
                SUITE,
                str(root),
                mirror or _apt_mirror(),
            ],
            "debootstrap",
            timeout_s=1800,
            progress=progress,
        )
        _harden_rootfs(root)
        _add_work_dir(root)
        if packages != EXTRA_PACKAGES:
            _drop_toolchain(root)
            _record_versions(root, packages)
        partial = tarball.with_suffix(".partial")
        _run(
            ["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."],
            "tar",
            timeout_s=600,
        )
        partial.rename(tarball)
    return tarball


VERSIONS_FILE = "usr/share/nimbus/packages"
"""In the rootfs: the requested packages' versions, one ``name=version`` a line."""


def _record_versions(root: Path, packages: tuple[str, ...]) -> None:
    """Read the installed versions from the rootfs's own dpkg database (no chroot needed)."""
    proc = subprocess.run(  # noqa: S603
        ["dpkg-query", f"--admindir={root / 'var/lib/dpkg'}", "-W", "-f=${Package}=${Version}\\n"]
        + ["python3.11" if name == "python3" else name for name in packages],
        check=False,
        capture_output=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise ImageBuildError(f"dpkg-query failed: {proc.stderr.decode(errors='replace')}")
    target = root / VERSIONS_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(proc.stdout)


def rootfs_versions(tarball: Path) -> str:
    """The ``name=version`` lines recorded in a rootfs tarball, comma-joined (a label value)."""
    proc = subprocess.run(  # noqa: S603
        ["tar", "-xOf", str(tarball), f"./{VERSIONS_FILE}"],  # noqa: S607
        check=False,
        capture_output=True,
        timeout=120,
    )
    lines = proc.stdout.decode(errors="replace").split() if proc.returncode == 0 else []
    return ",".join(lines)


# scipy depends on pythran, which pulls in g++ and binutils: the sandbox keeps no compiler.
TOOLCHAIN_GLOBS = (
    "usr/bin/*gcc*",
    "usr/bin/*g++*",
    "usr/bin/c++",
    "usr/bin/cpp*",
    "usr/bin/*-linux-gnu-*",
    "usr/bin/as",
    "usr/bin/ld",
    "usr/bin/ld.*",
    "usr/lib/gcc/*/*/cc1*",
    "usr/libexec/gcc/*/*/cc1*",
)


def _drop_toolchain(root: Path) -> None:
    for pattern in TOOLCHAIN_GLOBS:
        for path in root.glob(pattern):
            if path.is_file() or path.is_symlink():
                path.unlink()


def _harden_rootfs(root: Path) -> None:
    """Strip setuid/setgid bits, drop compilers' leftovers and package caches."""
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            if not path.is_symlink() and st.st_mode & 0o6000:
                path.chmod(st.st_mode & 0o1777)
    for rel in PRUNE_PATHS:
        target = root / rel
        if target.is_dir():
            shutil.rmtree(target)
            target.mkdir()
    for compiler in ("usr/bin/gcc", "usr/bin/cc", "usr/bin/sudo"):
        (root / compiler).unlink(missing_ok=True)


def _add_work_dir(root: Path) -> None:
    """``/work/job`` owned by the sandbox user (0700) under a root-owned ``/work``.

    A fresh anonymous volume mounted at ``/work`` is populated from this (Docker copies the
    image's content, owner and mode into an empty volume), so no per-job upload is needed to
    give the sandbox user a writable work directory.
    """
    job = root / "work" / "job"
    job.mkdir(parents=True, exist_ok=True)
    (root / "work").chmod(0o755)
    job.chmod(0o700)
    os.chown(job, 65534, 65534)


def build_offline(
    tag: str = DEFAULT_TAG,
    docker_host: str | None = None,
    progress: Progress | None = None,
    packages: tuple[str, ...] = EXTRA_PACKAGES,
) -> str:
    tarball = build_rootfs_tarball(progress=progress, packages=packages)
    if progress is not None:
        progress(f"docker import: {tarball.name} as {tag}")
    changes: list[str] = []
    if packages != EXTRA_PACKAGES:  # the python image stays as it was built before
        changes += ["--change", f"LABEL {PACKAGES_LABEL}={rootfs_versions(tarball)}"]
        for env in SCI_ENV:
            changes += ["--change", f"ENV {env}"]
    with tarball.open("rb") as data:
        proc = _docker(
            docker_host,
            "import",
            *changes,
            "--change",
            "USER 65534:65534",
            "--change",
            "WORKDIR /work/job",
            "--change",
            'CMD ["/usr/bin/python3"]',
            "-",
            tag,
            stdin=data,
            timeout=900,
        )
    if proc.returncode != 0:
        raise ImageBuildError(f"docker import failed: {proc.stderr.decode(errors='replace')}")
    return tag


def build_from_dockerfile(tag: str = DEFAULT_TAG, docker_host: str | None = None) -> str:
    proc = _docker(docker_host, "build", "-t", tag, str(IMAGE_DIR), timeout=1800)
    if proc.returncode != 0:
        raise ImageBuildError(f"docker build failed: {proc.stderr.decode(errors='replace')}")
    return tag


def build_sci_image(
    docker_host: str | None = None, tag: str = SCI_TAG, progress: Progress | None = None
) -> str:
    """Make sure the ``python-sci`` image exists (always the offline debootstrap build)."""
    if image_exists(tag, docker_host):
        return tag
    if progress is not None:
        progress(f"building the python-sci image {tag} (once; later starts reuse it)")
    return build_offline(tag, docker_host, progress, packages=SCI_PACKAGES)


def image_packages(tag: str, docker_host: str | None = None) -> dict[str, str] | None:
    """The packages recorded on image ``tag`` (name -> version); None when it is missing."""
    proc = _docker(
        docker_host,
        "image",
        "inspect",
        "-f",
        f'{{{{index .Config.Labels "{PACKAGES_LABEL}"}}}}',
        tag,
        timeout=60,
    )
    if proc.returncode != 0:
        return None
    pairs = [item.partition("=") for item in proc.stdout.decode().strip().split(",") if item]
    return {name: version for name, _, version in pairs}


def build_image(
    docker_host: str | None = None, tag: str = DEFAULT_TAG, progress: Progress | None = None
) -> str:
    """Make sure image ``tag`` exists on the engine at ``docker_host``; return the tag.

    Uses the Dockerfile when a registry is reachable, otherwise the offline debootstrap build;
    ``progress`` hears what the build is doing.
    """
    if image_exists(tag, docker_host):
        return tag
    if progress is not None:
        progress(f"building the sandbox image {tag} (once; later starts reuse it)")
    if _registry_reachable():
        try:
            return build_from_dockerfile(tag, docker_host)
        except ImageBuildError:
            pass  # e.g. the registry answers TCP but refuses pulls: the offline build still works
    return build_offline(tag, docker_host, progress)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docker-host", default=None)
    parser.add_argument("--tag", default=DEFAULT_TAG)
    parser.add_argument("--rootfs-only", action="store_true")
    parser.add_argument("--sci", action="store_true", help="build the python-sci image")
    args = parser.parse_args()
    if args.sci:
        print(build_sci_image(args.docker_host, progress=print))
    elif args.rootfs_only:
        print(build_rootfs_tarball())
    else:
        print(build_image(args.docker_host, args.tag))


if __name__ == "__main__":
    main()
