"""Attacks on the code runner's resources (issue 18, findings 1, 3 and 17): jobs that fill their
work directory, cut their file archive short, or name a file with bytes that are not UTF-8 must
not wedge the engine connection pool, fill the host's disk or harm the worker; reaping never
delays start-up nor touches another installation's sandboxes. All against the real engine."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import aiodocker
import aiohttp
import pytest

from api.jobs.runtime import sandbox_instance
from api.models import JobStatus
from executor.backends import DockerBackend, Outcome, SandboxBackend
from executor.backends.docker.sandbox import LABEL, LABEL_CREATED, LABEL_INSTANCE, LABEL_OWNER
from executor.backends.docker.supervisor import work_free_bytes
from tests.executor.docker_engine import Engine
from tests.executor.helpers import FAST, run_job
from tests.jobs.fixtures import JOBS, LiveFactory

MIB = 1024 * 1024
FILL_WORK_DIR = """
import errno, os
written = 0
try:
    for n in range(100):  # up to 400 MB, in files under the per-file limit
        fd = os.open(f"part{n}", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for _ in range(4):
                view = memoryview(b"x" * (1 << 20))
                while view:
                    done = os.write(fd, view)
                    written += done
                    view = view[done:]
        finally:
            os.close(fd)
except OSError as exc:
    print(errno.errorcode[exc.errno], written, flush=True)
else:
    print("NOERROR", written, flush=True)
"""
LONG_NAMES = """
import os
name = "d" * 200
for _ in range(15):
    os.mkdir(name)
    os.chdir(name)
for i in range(80):
    open(f"{i:03d}" + "f" * 200, "w").close()
print("made")
"""
ODD_NAME = """
import os
fd = os.open(b"\\xff\\xfe.txt", os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, b"odd")
os.close(fd)
open("ok.txt", "w").write("fine")
print("done")
"""
ESCAPED = "\\xff\\xfe.txt"


def acquired(backend: DockerBackend) -> int:
    """Engine connections this backend's pool has handed out and not had back."""
    connector: Any = backend.docker.connector
    return len(connector._acquired)


@pytest.fixture(  # marked here: getfixturevalue hides the engine from the docker marking
    params=[pytest.param(k, marks=pytest.mark.docker) for k in ("docker", "pool")]
)
def docker_kind(request: pytest.FixtureRequest) -> DockerBackend:
    """One-shot containers and warm ones: both carry the work directory's cap."""
    backend: DockerBackend = request.getfixturevalue(f"{request.param}_backend")
    return backend


# -- finding 1: every engine response is released ------------------------------------------------


async def test_jobs_filling_their_work_dir_beyond_the_pool_size_do_not_wedge_the_engine(
    docker_engine: Engine,
) -> None:
    """More jobs of the "writes a few hundred MB" shape than the engine connection pool holds
    (made small here: 4, aiodocker's is 100), then a normal job still gets through."""
    limit = 4
    backend = DockerBackend(docker_engine.docker_host, docker_engine.image, connection_limit=limit)
    await backend.check()
    try:
        for _ in range(limit + 2):
            async with asyncio.timeout(60):
                hostile = await run_job(backend, FILL_WORK_DIR, wall_time_s=20)
            assert hostile.outcome is not Outcome.ERROR, hostile
        async with asyncio.timeout(30):  # promptly: normally well under a second
            after = await run_job(backend, "print('next')")
        assert (after.outcome, after.stdout) == (Outcome.SUCCEEDED, "next\n"), after
        await backend.drain()
        assert acquired(backend) == 0
    finally:
        await backend.close()


async def test_a_job_whose_files_hit_the_caps_holds_no_engine_connection(
    docker_backend: DockerBackend,
) -> None:
    """The real default pool: after a job whose files were cut short, nothing stays acquired
    (and its container is gone, not locked by a half-read archive)."""
    await docker_backend.drain()
    before = acquired(docker_backend)
    result = await run_job(docker_backend, FILL_WORK_DIR, wall_time_s=20)
    assert result.outcome is Outcome.OUTPUT_EXCEEDED, result
    assert result.files_truncated
    await docker_backend.drain()
    assert acquired(docker_backend) == before


async def test_an_archive_cut_short_at_its_cap_is_closed_not_left_open(
    docker_backend: DockerBackend,
) -> None:
    """Long, deep names make the archive outgrow its byte cap (its headers take the room, not
    the file system): the reader stops early, and the response must be closed, not kept."""
    await docker_backend.drain()
    before = acquired(docker_backend)
    result = await run_job(docker_backend, LONG_NAMES, max_files=10, files_total_bytes=10_000)
    assert result.stdout == "made\n", result
    assert result.files_truncated  # the archive was cut short...
    await docker_backend.drain()
    assert acquired(docker_backend) == before  # ...and its connection released


# -- finding 1: the reaper -----------------------------------------------------------------------


async def leftover(docker: aiodocker.Docker, image: str, instance: str) -> str:
    """A sandbox container a crashed process of ``instance`` left an hour ago."""
    labels = {
        LABEL: "1",
        LABEL_INSTANCE: instance,
        LABEL_OWNER: "crashed",
        LABEL_CREATED: str(int(time.time()) - 3600),
    }
    config = {"Image": image, "Cmd": ["/usr/bin/true"], "Labels": labels}
    container = await docker.containers.create(config)
    return container.id


async def exists(docker: aiodocker.Docker, container_id: str) -> bool:
    try:
        await docker.containers.get(container_id)
    except aiodocker.DockerError as exc:
        if exc.status == 404:
            return False
        raise
    return True


async def containers_of(docker: aiodocker.Docker, instance: str) -> set[str]:
    filters = json.dumps({"label": [f"{LABEL_INSTANCE}={instance}"]})
    return {c.id for c in await docker.containers.list(all=True, filters=filters)}


async def test_a_second_installations_reaper_spares_the_first_ones_live_sandboxes(
    docker_engine: Engine,
) -> None:
    first = DockerBackend(docker_engine.docker_host, docker_engine.image, pool_size=1)
    second = DockerBackend(docker_engine.docker_host, docker_engine.image)
    await first.check()
    try:
        assert first.pool is not None
        await first.pool.wait_ready()
        chunks: list[tuple[str, str]] = []
        source = "import time\nprint('up', flush=True)\ntime.sleep(2)\nprint('done')"
        running = asyncio.create_task(run_job(first, source, chunks=chunks))
        async with asyncio.timeout(20):
            while not chunks:  # noqa: ASYNC110 - until the job runs
                await asyncio.sleep(0.05)
        live = await containers_of(first.docker, first.instance)
        assert live  # the running job's container, and the pool's refill
        # a second Nimbus on the same engine starts: it reaps whatever age, as at start-up
        await second.reap(older_than_s=0.0)
        assert live <= await containers_of(first.docker, first.instance)
        result = await running
        assert result.outcome is Outcome.SUCCEEDED and result.stdout == "up\ndone\n", result
    finally:
        await first.close()
        await second.close()


async def test_a_restarted_installation_reaps_what_it_left(docker_engine: Engine) -> None:
    instance = "restart-test-instance"
    backend = DockerBackend(docker_engine.docker_host, docker_engine.image, instance=instance)
    other = await leftover(backend.docker, docker_engine.image, "another-installation")
    try:
        ours = await leftover(backend.docker, docker_engine.image, instance)
        assert await backend.reap(older_than_s=0.0) >= 1
        assert not await exists(backend.docker, ours)
        assert await exists(backend.docker, other)  # never another installation's
    finally:
        await backend.docker.containers.container(other).delete(force=True)
        await backend.close()


@pytest.fixture
async def locked_leftover(sandbox: DockerBackend) -> AsyncIterator[str]:
    """A leftover of this installation that the engine holds locked: an archive of it is being
    streamed and nobody reads it (what a half-read archive did), so inspect and delete hang."""
    docker = sandbox.docker
    labels = {
        LABEL: "1",
        LABEL_INSTANCE: sandbox.instance,
        LABEL_OWNER: "crashed",
        LABEL_CREATED: str(int(time.time()) - 3600),
    }
    container = await docker.containers.create(
        {"Image": sandbox.image, "Cmd": ["/usr/bin/true"], "Labels": labels}
    )
    async with aiohttp.ClientSession(
        connector=aiohttp.UnixConnector(docker.connector._path)  # type: ignore[attr-defined]
    ) as session:
        archive = await session.get(
            f"http://localhost/containers/{container.id}/archive", params={"path": "/usr"}
        )
        try:
            await archive.content.read(1024)  # the stream has begun; the rest waits
            with pytest.raises(TimeoutError):  # the engine really holds it locked
                async with asyncio.timeout(2):
                    await docker.containers.get(container.id)
            yield container.id
        finally:
            archive.close()
    async with asyncio.timeout(30):  # unlocked: the reaper's delete, or ours, goes through
        while await exists(docker, container.id):
            with contextlib.suppress(aiodocker.DockerError):  # 409: the reaper is deleting it
                await docker.containers.container(container.id).delete(force=True)
            await asyncio.sleep(0.1)


async def test_start_up_answers_healthz_while_the_reaper_waits_on_a_locked_engine(
    live_factory: LiveFactory, locked_leftover: str
) -> None:
    started = time.monotonic()
    async with asyncio.timeout(60), live_factory(worker_reap_on_start=True) as live:
        up_after = time.monotonic() - started
        health = await live.client.get("/healthz")
        assert health.status_code == 200
        assert up_after < 10, f"start-up waited {up_after:.1f} s"  # the reaper waits 30 s


def test_an_installations_sandbox_instance_is_stable_and_its_own(tmp_path: Any) -> None:
    from api.config import Settings

    one = Settings(data_dir=tmp_path / "one")
    assert sandbox_instance(one) == sandbox_instance(Settings(data_dir=tmp_path / "one"))
    assert sandbox_instance(one) != sandbox_instance(Settings(data_dir=tmp_path / "two"))
    pg = "postgresql+asyncpg://nimbus:{}@db/nimbus"
    assert sandbox_instance(Settings(database_url=pg.format("a"))) == sandbox_instance(
        Settings(database_url=pg.format("b"))
    )  # a new password is the same installation


# -- finding 3: the work directory's size is capped by the kernel --------------------------------


async def test_writing_past_the_work_dir_cap_fails_in_the_script_and_ends_output_exceeded(
    docker_kind: DockerBackend,
) -> None:
    result = await run_job(docker_kind, FILL_WORK_DIR, wall_time_s=20)
    code, written = result.stdout.split()
    assert code in ("ENOSPC", "EDQUOT"), result
    limits = replace(FAST, wall_time_s=20)
    assert limits.files_total_bytes <= int(written) <= work_free_bytes(limits)
    assert result.outcome is Outcome.OUTPUT_EXCEEDED
    assert result.exit_code == 0  # the script handled the error itself
    assert result.error is not None and "work directory is full" in result.error
    assert result.files_truncated  # more was written than may come back


async def test_a_job_writing_up_to_its_files_cap_is_not_cut(docker_kind: DockerBackend) -> None:
    """The cap leaves room for everything the job may return: no false "full"."""
    cap = 3 * MIB + 5
    source = (
        f"for i, size in enumerate(({MIB}, {MIB}, {MIB + 5})):\n"
        "    open(f'f{i}', 'wb').write(b'y' * size)\n"
        "for i in range(20):\n"
        "    open(f'small{i}', 'w').write('z')\n"
    )
    result = await run_job(docker_kind, source, files_total_bytes=cap + 20)
    assert result.outcome is Outcome.SUCCEEDED, result
    assert not result.files_truncated and result.error is None
    assert sum(f.size for f in result.files) == cap + 20


async def test_filling_the_work_dir_does_not_grow_the_hosts_disk(
    docker_backend: DockerBackend,
) -> None:
    info = await docker_backend.docker.system.info()
    root = info["DockerRootDir"]
    before = shutil.disk_usage(root).used
    chunks: list[tuple[str, str]] = []
    source = FILL_WORK_DIR.replace("range(100)", "range(50)") + "import time\ntime.sleep(5)\n"
    job = asyncio.create_task(
        run_job(docker_backend, source, chunks=chunks, wall_time_s=20, files_total_bytes=200 * MIB)
    )
    try:
        async with asyncio.timeout(30):
            while not chunks:  # noqa: ASYNC110 - the script says when it has written
                await asyncio.sleep(0.05)
        grown = shutil.disk_usage(root).used - before
        assert chunks[0][1].split()[0] in ("ENOSPC", "NOERROR")
        # 200 MB were written into the work directory (less if memory ran short): none of it
        # on the disk under the engine (other work on this machine may add a little)
        assert grown < 64 * MIB, f"the host's disk grew by {grown / MIB:.0f} MB"
    finally:
        await job


# -- finding 17: output file names that are not UTF-8 --------------------------------------------


async def test_a_non_utf8_output_file_name_comes_back_escaped(backend: SandboxBackend) -> None:
    result = await run_job(backend, ODD_NAME)
    assert result.outcome is Outcome.SUCCEEDED, result
    files = {f.path: f.content for f in result.files}
    assert files == {ESCAPED: b"odd", "ok.txt": b"fine"}
    assert all(path.encode("utf-8") for path in files)  # storable as text


async def test_a_job_writing_a_non_utf8_file_name_ends_normally(live_factory: LiveFactory) -> None:
    async with live_factory() as live:
        dev = await live.user()
        r = await live.submit(dev, {"source": ODD_NAME}, wait=20)
        assert r.status_code in (200, 201), r.text
        job = r.json()
        assert job["status"] == JobStatus.succeeded, job
        assert sorted(f["path"] for f in job["files"]) == [ESCAPED, "ok.txt"]
        headers = {"Authorization": r.request.headers["Authorization"]}
        download = await live.client.get(
            f"{JOBS}/{job['id']}/files/{quote(ESCAPED)}", headers=headers
        )
        assert download.status_code == 200 and download.content == b"odd"
