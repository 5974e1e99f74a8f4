"""Docker-only behaviour: single-use pool containers, labels, the reaper, the image, check()."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from typing import Any

import aiodocker
import pytest

from executor.archive import build_input_tar
from executor.backends import (
    DockerBackend,
    ExecutorUnavailable,
    JobSpec,
    Outcome,
    RunResult,
    reap_sandboxes,
    select_backend,
)
from executor.backends.base import DEFAULT_LIMITS, split_exit_status
from executor.backends.docker import MAX_IDLE_S
from executor.backends.docker.sandbox import (
    LABEL,
    LABEL_CREATED,
    LABEL_INSTANCE,
    PYTHON,
    Sandbox,
    container_config,
    sandbox_labels,
)
from executor.backends.docker.supervisor import POOL_INPUT_BYTES, work_free_bytes
from tests.executor.docker_engine import Engine
from tests.executor.helpers import run_job

pytestmark = [pytest.mark.docker, pytest.mark.slow]
HOSTNAME = "import socket; print(socket.gethostname())"


async def labelled(docker_host: str) -> tuple[list[str], list[str]]:
    async with aiodocker.Docker(url=docker_host) as docker:
        filters = json.dumps({"label": [f"{LABEL}=1"]})
        containers = await docker.containers.list(all=True, filters=filters)
        volumes = await docker.volumes.list(filters={"label": [f"{LABEL}=1"]})
    return [c.id for c in containers], [v["Name"] for v in volumes.get("Volumes") or []]


async def dangling_volumes(docker_host: str) -> list[str]:
    """Labelled volumes no container uses: leftovers (each sandbox's volume goes with it)."""
    async with aiodocker.Docker(url=docker_host) as docker:
        filters = {"label": [f"{LABEL}=1"], "dangling": ["true"]}
        volumes = await docker.volumes.list(filters=filters)
    return [v["Name"] for v in volumes.get("Volumes") or []]


async def test_pool_jobs_run_in_prestarted_containers_never_reused(
    pool_backend: DockerBackend,
) -> None:
    pool = pool_backend.pool
    assert pool is not None
    hostnames = []
    for _ in range(3):
        await pool.wait_ready()
        ready = {cid[:12] for cid in pool.container_ids()}
        result = await run_job(pool_backend, HOSTNAME)
        hostname = result.stdout.strip()
        assert hostname in ready  # the job ran in a warm container...
        hostnames.append(hostname)
    assert len(set(hostnames)) == 3  # ...and each container served exactly one job
    await pool.wait_ready()
    assert pool_backend.pool_available >= 1


async def test_one_shot_jobs_get_fresh_containers(docker_backend: DockerBackend) -> None:
    first = await run_job(docker_backend, HOSTNAME)
    second = await run_job(docker_backend, HOSTNAME)
    assert first.stdout != second.stdout


PROGRAMS_AS_PYTHON_SEES_THEM = {
    "introspection": (
        "import json, pickle, sys\n"
        "class Point: pass\n"
        "print(json.dumps({'argv': sys.argv, 'orig_argv': sys.orig_argv[1:], 'file': __file__,\n"
        "    'path0': sys.path[0], 'name': __name__, 'flags': list(sys.flags),\n"
        "    'globals': sorted(globals()), 'main': sys.modules['__main__'].__dict__ is globals(),\n"
        "    'loader': type(__loader__).__name__, 'spec': __spec__, 'package': __package__,\n"
        "    'pickled': type(pickle.loads(pickle.dumps(Point()))).__qualname__,\n"
        "    'site': [callable(exit), callable(quit), callable(help)]}))\n"
    ),
    "traceback": "def inner():\n    return 1 / 0\ninner()\n",
    "chained": "try:\n    {}['x']\nexcept KeyError:\n    raise ValueError('bad')\n",
    "syntax": "print('never')\ndef broken(:\n",
    "exit builtin": "print('bye', end=''); exit(4)",
    "keyboard interrupt": (
        "import atexit; atexit.register(print, 'atexit ran')\nraise KeyboardInterrupt\n"
    ),
    "coding cookie": "# -*- coding: latin-1 -*-\nprint(repr('caf\xe9'))\n",
    "own module named like a standard one": "import resource\nprint(resource.WHERE)\n",
    "thread still running at KeyboardInterrupt": (
        "import threading, time\n"
        "def late():\n    time.sleep(0.2)\n    print('thread done')\n"
        "threading.Thread(target=late).start()\nraise KeyboardInterrupt\n"
    ),
}


async def plain_python(docker: aiodocker.Docker, image: str, spec: JobSpec) -> RunResult:
    """``python3 -u -B <entrypoint> <args>`` itself in a hardened container (no supervisor), its
    files uploaded to a plain volume: what the sandbox's supervisor must be indistinguishable
    from."""
    command = [PYTHON, "-u", "-B", spec.entrypoint, *spec.args]
    config = container_config(image, spec.limits, command)
    config["HostConfig"]["Mounts"] = [{"Type": "volume", "Target": "/work"}]
    config["OpenStdin"] = config["StdinOnce"] = config["AttachStdin"] = False
    container = await docker.containers.create(config)
    try:
        await container.put_archive("/work", build_input_tar(spec.files))  # type: ignore[no-untyped-call]
        out: dict[int, bytes] = {1: b"", 2: b""}
        async with container.attach(stdout=True, stderr=True) as stream:
            await container.start()
            while (message := await stream.read_out()) is not None:
                out[message.stream] += message.data
        status = int((await container.wait())["StatusCode"])
    finally:
        await container.delete(force=True, v=True)
    exit_code, signal = split_exit_status(status)
    outcome = Outcome.SUCCEEDED if status == 0 else Outcome.FAILED
    return RunResult(outcome, exit_code, signal, out[1].decode(), out[2].decode())


@pytest.mark.parametrize("program", PROGRAMS_AS_PYTHON_SEES_THEM)
async def test_sandboxes_run_programs_exactly_like_a_plain_python(
    program: str, docker_backend: DockerBackend, pool_backend: DockerBackend
) -> None:
    """The supervisor runs the program in its own interpreter: nothing a program can observe
    (argv, paths, flags, globals, tracebacks, exit status) may differ from a fresh
    ``python3 -u -B main.py``, in a warm container or a one-shot one."""
    source = PROGRAMS_AS_PYTHON_SEES_THEM[program].encode("latin-1")
    spec = JobSpec(
        files={
            "src/main.py": source,
            "src/resource.py": b"WHERE = 'mine'\n",  # the program's, beside it
            "resource.py": b"raise SystemExit('the bootstrap imported this')\n",
        },
        entrypoint="src/main.py",
        args=["a b", "--flag"],
    )
    assert pool_backend.pool is not None
    await pool_backend.pool.wait_ready()
    warm = await pool_backend.run(spec)
    one_shot = await docker_backend.run(spec)
    plain = await plain_python(docker_backend.docker, docker_backend.image, spec)

    def observed(result: RunResult) -> tuple[object, ...]:
        return (result.outcome, result.exit_code, result.signal, result.stdout, result.stderr)

    assert observed(warm) == observed(plain)
    assert observed(one_shot) == observed(plain)
    assert "<string>" not in warm.stderr  # no frame of the bootstrap shows
    if program == "introspection":
        seen = json.loads(warm.stdout)
        assert seen["argv"] == ["src/main.py", "a b", "--flag"]
        assert seen["path0"] == "/work/job/src" and seen["main"] and seen["pickled"] == "Point"


async def test_jobs_whose_limits_differ_from_the_pool_fall_back_to_one_shot(
    pool_backend: DockerBackend,
) -> None:
    assert pool_backend.pool is not None
    await pool_backend.pool.wait_ready()
    ready = {cid[:12] for cid in pool_backend.pool.container_ids()}
    result = await run_job(pool_backend, HOSTNAME, memory_mb=128)
    assert result.outcome is Outcome.SUCCEEDED
    assert result.stdout.strip() not in ready


async def test_a_job_finding_the_pool_empty_waits_for_its_refill(
    docker_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a one-shot container beside the pool's own refill: under load both would be slower."""
    created: list[int] = []
    create = Sandbox.create.__func__  # type: ignore[attr-defined]

    async def recording(cls: type[Sandbox], *args: Any) -> Sandbox:
        created.append(args[3])  # the work directory's size: a one-shot's fits its inputs
        return await create(cls, *args)  # type: ignore[no-any-return]

    monkeypatch.setattr(Sandbox, "create", classmethod(recording))
    # a slow engine is no one-shot excuse
    monkeypatch.setattr("executor.backends.docker.pool.TAKE_WAIT_S", 60.0)
    backend = DockerBackend(docker_engine.docker_host, docker_engine.image, pool_size=1)
    await backend.check()  # returns with the pool full
    try:
        first, second = await asyncio.gather(  # not run_job: it would wait for the refill
            *(backend.run(JobSpec(files={"main.py": f"print({i})".encode()})) for i in (1, 2))
        )
        assert (first.stdout, second.stdout) == ("1\n", "2\n")
        assert len(created) >= 2  # the first container, and the refill the second job ran in
        pool_size = work_free_bytes(DEFAULT_LIMITS) + POOL_INPUT_BYTES
        assert all(size == pool_size for size in created), created  # no one-shot among them
    finally:
        await backend.close()


async def test_a_job_cancelled_before_it_got_a_warm_container_never_runs(
    pool_backend: DockerBackend,
) -> None:
    assert pool_backend.pool is not None
    await pool_backend.pool.wait_ready()
    cancel = asyncio.Event()
    cancel.set()  # e.g. while it waited for the pool's refill
    chunks: list[tuple[str, str]] = []
    result = await run_job(pool_backend, "print('ran')", cancel=cancel, chunks=chunks)
    assert result.outcome is Outcome.CANCELLED
    assert chunks == [] and result.stdout == ""
    async with asyncio.timeout(30):  # leave the shared pool as it was found: full
        while pool_backend.pool_available < pool_backend.pool.size:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_finished_jobs_leave_no_container_or_volume(docker_engine: Engine) -> None:
    backend = DockerBackend(docker_engine.docker_host, docker_engine.image)
    await backend.check()
    before = await labelled(docker_engine.docker_host)
    await run_job(backend, "open('x', 'w').write('x')")
    await run_job(backend, "while True: pass", wall_time_s=0.5)
    await backend.close()
    after = await labelled(docker_engine.docker_host)
    # other fixtures' sandboxes may come and go meanwhile; this backend must add none
    assert set(after[0]) <= set(before[0])
    assert set(after[1]) <= set(before[1])


async def test_reaper_removes_labelled_leftovers(
    docker_engine: Engine, docker_backend: DockerBackend
) -> None:
    docker = docker_backend.docker
    old = {
        LABEL: "1",
        LABEL_INSTANCE: docker_backend.instance,
        LABEL_CREATED: str(int(time.time()) - 3600),
    }
    volume = await docker.volumes.create({"Name": "nimbus-sbx-leftover", "Labels": old})
    container = await docker.containers.create(
        {
            "Image": docker_engine.image,
            "Cmd": ["/usr/bin/python3", "-c", "import time; time.sleep(600)"],
            "Labels": old,
            "HostConfig": {
                "NetworkMode": "none",
                "Mounts": [{"Type": "volume", "Source": volume.name, "Target": "/work"}],
            },
        },
        name="nimbus-sbx-leftover",
    )
    await container.start()
    unrelated = await docker.volumes.create({"Name": "not-ours"})
    # unused, like the volume of a sandbox another worker is creating at this very moment
    fresh = await docker.volumes.create(
        {"Name": "nimbus-sbx-fresh", "Labels": sandbox_labels(docker_backend.instance)}
    )
    try:
        # live sandboxes (the session's pools included) are younger than this by design
        reaped = await reap_sandboxes(
            docker, instance=docker_backend.instance, older_than_s=MAX_IDLE_S + 600
        )
        assert reaped == 2
        containers, volumes = await labelled(docker_engine.docker_host)
        assert container.id not in containers
        assert "nimbus-sbx-leftover" not in volumes
        assert "nimbus-sbx-fresh" in volumes
        assert (await docker.volumes.get("not-ours")).name == "not-ours"
    finally:
        await unrelated.delete()
        await fresh.delete()


async def test_idle_warm_containers_are_replaced(docker_engine: Engine) -> None:
    backend = DockerBackend(
        docker_engine.docker_host, docker_engine.image, pool_size=1, pool_max_idle_s=0.5
    )
    await backend.check()
    try:
        pool = backend.pool
        assert pool is not None
        await pool.wait_ready()
        first = pool.container_ids()
        async with asyncio.timeout(30):
            while pool.container_ids() in (first, set()):  # noqa: ASYNC110 - polling the pool
                await asyncio.sleep(0.1)
        containers, _ = await labelled(docker_engine.docker_host)
        assert not first & set(containers)  # the idle one is gone, not just forgotten
        result = await run_job(backend, "print('fresh')")
        assert result.stdout == "fresh\n"
    finally:
        await backend.close()


async def test_a_container_the_engine_stops_is_an_error_not_the_programs_failure(
    docker_backend: DockerBackend,
) -> None:
    """`docker stop` by an operator, or a daemon restart: the program did not fail."""
    chunks: list[tuple[str, str]] = []
    source = "import socket, time\nprint(socket.gethostname(), flush=True)\ntime.sleep(30)"
    job = asyncio.create_task(run_job(docker_backend, source, chunks=chunks))
    async with asyncio.timeout(20):
        while not chunks:  # noqa: ASYNC110 - waiting for the program to run
            await asyncio.sleep(0.05)
    hostname = chunks[0][1].strip()  # the container id's first 12 characters
    await docker_backend.docker.containers.container(hostname).kill(signal="SIGTERM")
    result = await job
    assert result.outcome is Outcome.ERROR, result
    assert result.error is not None
    assert result.error.startswith("sandbox failure: the Docker engine stopped the container")


async def test_a_program_that_signals_itself_failed(docker_backend: DockerBackend) -> None:
    result = await run_job(
        docker_backend, "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)"
    )
    assert result.outcome is Outcome.FAILED, result
    assert result.signal == 15


async def test_a_warm_container_stopped_while_waiting_is_not_given_a_job(
    docker_engine: Engine,
) -> None:
    """What an engine restart does to every warm container: the job must not inherit the
    stopped container's exit status as its own result."""
    backend = DockerBackend(docker_engine.docker_host, docker_engine.image, pool_size=1)
    await backend.check()
    try:
        pool = backend.pool
        assert pool is not None
        await pool.wait_ready()
        (warm,) = pool._ready
        stopped = warm.id
        await backend.docker.containers.container(stopped).kill(signal="SIGTERM")
        async with asyncio.timeout(10):  # the end of its attach stream reaches us
            while warm.attached:  # noqa: ASYNC110 - no event to wait on
                await asyncio.sleep(0.05)
        result = await run_job(backend, HOSTNAME)
        assert result.outcome is Outcome.SUCCEEDED, result
        assert not stopped.startswith(result.stdout.strip())
        await backend.drain()
        containers, _ = await labelled(docker_engine.docker_host)
        assert stopped not in containers  # deleted, not just skipped
    finally:
        await backend.close()


async def test_reaper_spares_the_warm_pool(pool_backend: DockerBackend) -> None:
    assert pool_backend.pool is not None
    await pool_backend.pool.wait_ready()
    ready = pool_backend.pool.container_ids()
    await pool_backend.reap()
    assert ready <= {c for c in (await labelled(pool_backend.docker_host or ""))[0]}
    result = await run_job(pool_backend, "print('still warm')")
    assert result.stdout == "still warm\n"


async def test_image_has_no_setuid_binaries_or_compilers(docker_backend: DockerBackend) -> None:
    source = (
        "import os, shutil, stat\n"
        "found = []\n"
        "for top in ('/usr', '/bin', '/sbin', '/etc', '/var', '/opt'):\n"
        "    for root, dirs, files in os.walk(top):\n"
        "        for name in files:\n"
        "            path = os.path.join(root, name)\n"
        "            try:\n"
        "                mode = os.lstat(path).st_mode\n"
        "            except OSError:\n"
        "                continue\n"
        "            if stat.S_ISREG(mode) and mode & (stat.S_ISUID | stat.S_ISGID):\n"
        "                found.append(path)\n"
        "print(found)\n"
        "print([c for c in ('gcc', 'cc', 'sudo', 'su', 'make') if shutil.which(c)])\n"
    )
    result = await run_job(docker_backend, source)
    setuid, tools = result.stdout.splitlines()
    assert setuid == "[]"
    assert tools in ("[]", "['su']")  # su without its setuid bit is harmless


async def test_check_explains_a_missing_image(docker_engine: Engine) -> None:
    backend = DockerBackend(docker_engine.docker_host, "nimbus-sandbox:does-not-exist")
    try:
        with pytest.raises(ExecutorUnavailable, match="nimbus sandbox build"):
            await backend.check()
    finally:
        await backend.close()


async def test_check_explains_an_absent_engine(tmp_path: object) -> None:
    backend = DockerBackend(f"unix://{tmp_path}/nothing.sock")
    try:
        with pytest.raises(ExecutorUnavailable, match="no Docker engine answers"):
            await backend.check()
    finally:
        await backend.close()


async def test_auto_selection_prefers_docker_when_it_answers(docker_engine: Engine) -> None:
    chosen = await select_backend("auto", docker_engine.docker_host, docker_engine.image)
    assert isinstance(chosen, DockerBackend)
    await chosen.close()


async def test_auto_selection_falls_back_to_bwrap(tmp_path: object) -> None:
    chosen = await select_backend("auto", f"unix://{tmp_path}/nothing.sock")
    assert chosen is not None and chosen.name == "bwrap"
    assert await select_backend("off") is None


async def test_invalid_job_is_an_error_not_a_crash(docker_backend: DockerBackend) -> None:
    result = await docker_backend.run(JobSpec(files={"a.py": b""}, entrypoint="main.py"))
    assert result.outcome is Outcome.ERROR


async def test_old_stopped_sandboxes_made_before_instance_labels_are_reaped(
    docker_engine: Engine,
) -> None:
    """Issue 18, finding 1: sandboxes from before installations were labelled are reaped only
    when stopped long enough; running ones, other names and any labelled one are left alone."""
    from executor.backends.docker.backend import reap_legacy_sandboxes

    tag = uuid.uuid4().hex[:10]
    made: dict[str, aiodocker.containers.DockerContainer] = {}

    async def make(docker: aiodocker.Docker, name: str, cmd: list[str], **labels: str) -> None:
        config = {"Image": docker_engine.image, "Cmd": cmd, "Labels": {LABEL: "1", **labels}}
        made[name] = await docker.containers.create(config, name=name)
        await made[name].start()

    async with aiodocker.Docker(url=docker_engine.docker_host) as docker:
        try:
            old = f"nimbus-sbx-{tag}000000"
            running = f"nimbus-sbx-{tag}111111"
            other_install = f"nimbus-sbx-{tag}222222"
            other_name = f"nimbus-sbx-{tag}-keep"
            await make(docker, old, ["true"])
            await make(docker, running, ["sleep", "60"])
            await make(docker, other_install, ["true"], **{LABEL_INSTANCE: "another"})
            await make(docker, other_name, ["true"])
            for name in (old, other_install, other_name):
                await made[name].wait()
            # stopped just now: too young, whoever made it may still be reading it
            assert await reap_legacy_sandboxes(docker, exited_for_s=600, name_contains=tag) == 0
            await asyncio.sleep(2.1)
            assert await reap_legacy_sandboxes(docker, exited_for_s=2, name_contains=tag) == 1
            left = {
                c._container["Names"][0].lstrip("/")
                for c in await docker.containers.list(all=True, filters=json.dumps({"name": [tag]}))
            }
            assert left == {running, other_install, other_name}
        finally:
            for container in made.values():
                with contextlib.suppress(aiodocker.DockerError):
                    await container.delete(force=True, v=True)
