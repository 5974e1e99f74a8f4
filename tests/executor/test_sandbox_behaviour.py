"""Behaviour every sandbox backend shares: output, exit codes, limits and hostile scripts."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time

import pytest

from executor.backends import Outcome, SandboxBackend
from executor.backends.streams import stored_size
from tests.executor.helpers import run_job

pytestmark = pytest.mark.slow


async def test_hello_world_goes_to_stdout(backend: SandboxBackend) -> None:
    result = await run_job(backend, "print('hello, world')")
    assert result.outcome is Outcome.SUCCEEDED
    assert (result.exit_code, result.signal) == (0, None)
    assert result.stdout == "hello, world\n"
    assert result.stderr == ""
    assert not result.stdout_truncated and not result.stderr_truncated
    assert 0 < result.duration_ms < 10_000


async def test_stderr_is_kept_apart_and_streamed_live(backend: SandboxBackend) -> None:
    chunks: list[tuple[str, str]] = []
    # one write each (unbuffered, print writes its text and its end apart: two chunks if slow)
    source = "import sys\nsys.stdout.write('out\\n')\nsys.stderr.write('err\\n')"
    result = await run_job(backend, source, chunks=chunks)
    assert (result.stdout, result.stderr) == ("out\n", "err\n")
    assert ("stdout", "out\n") in chunks
    assert ("stderr", "err\n") in chunks


async def test_nonzero_exit_is_failed(backend: SandboxBackend) -> None:
    result = await run_job(backend, "import sys; sys.exit(3)")
    assert result.outcome is Outcome.FAILED
    assert result.exit_code == 3


async def test_uncaught_exception_fails_with_traceback(backend: SandboxBackend) -> None:
    result = await run_job(backend, "raise ValueError('boom')")
    assert result.outcome is Outcome.FAILED
    assert result.exit_code == 1
    assert "ValueError: boom" in result.stderr


async def test_stdin_reaches_the_program_and_ends_with_eof(backend: SandboxBackend) -> None:
    source = "import sys\ndata = sys.stdin.read()\nprint(len(data), data.upper())"
    result = await run_job(backend, source, stdin=b"abc\ndef")
    assert result.stdout == "7 ABC\nDEF\n"


async def test_program_sees_eof_on_empty_stdin(backend: SandboxBackend) -> None:
    result = await run_job(backend, "import sys; print(repr(sys.stdin.read()))")
    assert result.stdout == "''\n"


async def test_args_are_passed_verbatim(backend: SandboxBackend) -> None:
    args = ["a b", "$(id)", "; rm -rf /", "ünï"]
    result = await run_job(backend, "import sys, json; print(json.dumps(sys.argv[1:]))", args=args)
    assert json.loads(result.stdout) == args


async def test_extra_files_are_importable(backend: SandboxBackend) -> None:
    files = {"lib/helper.py": b"VALUE = 42\n", "lib/__init__.py": b""}
    result = await run_job(backend, "from lib.helper import VALUE; print(VALUE)", files=files)
    assert result.stdout == "42\n"
    assert result.files == []  # inputs left unchanged are not reported back


@pytest.mark.parametrize("removed", ["main.py", "data.txt", "lib/helper.py"])
async def test_a_program_that_removes_its_inputs_ends_normally(
    backend: SandboxBackend, removed: str
) -> None:
    """The host probes the inputs to skip reading back an untouched work dir; a removed one
    made that probe fail the whole job as `error`, its output lost."""
    files = {"data.txt": b"x", "lib/helper.py": b""}
    source = f"import os; os.remove({removed!r}); print('cleaned up')"
    result = await run_job(backend, source, files=files)
    assert result.outcome is Outcome.SUCCEEDED, result.error
    assert result.stdout == "cleaned up\n"
    assert result.files == []


async def test_infinite_loop_times_out(backend: SandboxBackend) -> None:
    started = time.monotonic()
    result = await run_job(backend, "while True: pass", wall_time_s=1.0)
    assert result.outcome is Outcome.TIMED_OUT
    assert 900 <= result.duration_ms < 5000
    assert time.monotonic() - started < 8


async def test_sigterm_is_no_escape_from_the_timeout(backend: SandboxBackend) -> None:
    source = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)"
    result = await run_job(backend, source, wall_time_s=1.0)
    assert result.outcome is Outcome.TIMED_OUT


async def test_memory_bomb_is_memory_exceeded(backend: SandboxBackend) -> None:
    source = "chunks = []\nwhile True:\n    chunks.append(b'x' * 10_000_000)"
    result = await run_job(backend, source, memory_mb=64)
    assert result.outcome is Outcome.MEMORY_EXCEEDED


async def test_output_flood_is_capped_and_flagged(backend: SandboxBackend) -> None:
    result = await run_job(backend, "while True: print('x' * 999)", output_bytes=20_000)
    assert result.outcome is Outcome.OUTPUT_EXCEEDED
    assert result.stdout_truncated
    assert not result.stderr_truncated
    # the budget counts output as stored: a newline is two bytes of its event's JSON
    assert 20_000 - 2 <= stored_size(result.stdout) <= 20_000


async def test_output_cap_counts_both_streams(backend: SandboxBackend) -> None:
    source = (
        "import sys\nsys.stdout.write('o' * 600)\nsys.stdout.flush()\nsys.stderr.write('e' * 600)"
    )
    result = await run_job(backend, source, output_bytes=1000)
    assert result.outcome is Outcome.OUTPUT_EXCEEDED
    assert len(result.stdout) + len(result.stderr) == 1000


async def test_fork_bomb_is_contained_and_next_job_runs(backend: SandboxBackend) -> None:
    source = (
        "import os, time\n"
        "for _ in range(10_000):\n"
        "    try:\n"
        "        os.fork()\n"
        "    except OSError:\n"
        "        time.sleep(0.01)\n"
        "time.sleep(60)\n"
    )
    result = await run_job(backend, source, wall_time_s=2.0, pids=32)
    assert result.outcome is Outcome.TIMED_OUT
    after = await run_job(backend, "print('alive')")
    assert after.stdout == "alive\n"


async def test_network_is_absent(backend: SandboxBackend) -> None:
    source = (
        "import socket\n"
        "print(sorted(name for _, name in socket.if_nameindex()))\n"
        "for host in ('1.1.1.1', '127.0.0.1'):\n"
        "    try:\n"
        "        socket.create_connection((host, 53), timeout=2)\n"
        "        print('connected', host)\n"
        "    except OSError as exc:\n"
        "        print('refused', host, type(exc).__name__)\n"
    )
    result = await run_job(backend, source)
    lines = result.stdout.splitlines()
    assert lines[0] == "['lo']"
    assert "connected" not in result.stdout
    assert lines[1].startswith("refused 1.1.1.1")


async def test_root_file_system_is_read_only(backend: SandboxBackend) -> None:
    source = (
        "for path in ('/usr/evil', '/etc/evil', '/evil'):\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        print('wrote', path)\n"
        "    except OSError as exc:\n"
        "        print('denied', path, exc.errno)\n"
        "open('/tmp/scratch', 'w').write('tmp is writable')\n"
        "print(open('/tmp/scratch').read())\n"
    )
    result = await run_job(backend, source)
    assert "wrote" not in result.stdout
    assert result.stdout.count("denied") == 3
    assert "tmp is writable" in result.stdout


async def test_runs_as_nobody_without_capabilities(backend: SandboxBackend) -> None:
    source = (
        "import os\n"
        "print(os.getuid(), os.geteuid(), os.getgid())\n"
        "status = open('/proc/self/status').read()\n"
        "keys = ('CapEff', 'NoNewPrivs')\n"
        "print([l.split()[1] for l in status.splitlines() if l.startswith(keys)])\n"
    )
    result = await run_job(backend, source)
    ids, caps = result.stdout.splitlines()
    assert ids == "65534 65534 65534"
    cap_eff, *no_new_privs = json.loads(caps.replace("'", '"'))
    assert int(cap_eff, 16) == 0
    if no_new_privs:
        assert no_new_privs == ["1"]


async def test_no_host_environment_leaks(
    backend: SandboxBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NIMBUS_SECRET_KEY", "canary-do-not-leak")
    source = (
        "import os, json\n"
        "env = dict(os.environ)\n"
        "for pid in os.listdir('/proc'):\n"
        "    if pid.isdigit():\n"
        "        try:\n"
        "            env['proc' + pid] = open(f'/proc/{pid}/environ', 'rb').read().decode()\n"
        "        except OSError:\n"
        "            pass\n"
        "print(json.dumps(env))\n"
    )
    result = await run_job(backend, source)
    assert "canary-do-not-leak" not in result.stdout
    env = json.loads(result.stdout)
    assert {k for k in env if not k.startswith("proc")} <= {
        "PATH",
        "HOSTNAME",
        "HOME",
        "PWD",
        "LC_CTYPE",
    }


async def test_written_files_come_back_but_links_do_not(backend: SandboxBackend) -> None:
    source = (
        "import os\n"
        "open('result.txt', 'w').write('forty-two')\n"
        "os.makedirs('out/deep')\n"
        "open('out/deep/data.bin', 'wb').write(bytes(range(256)))\n"
        "os.symlink('/etc/passwd', 'passwd-link')\n"
        "os.symlink('..', 'up')\n"
        "open('main.py', 'a').write('# edited')\n"
        "try:\n"
        "    os.mkfifo('fifo')\n"
        "except OSError:\n"
        "    pass\n"
    )
    result = await run_job(backend, source)
    assert result.outcome is Outcome.SUCCEEDED, result.stderr
    by_path = {f.path: f for f in result.files}
    assert set(by_path) == {"result.txt", "out/deep/data.bin", "main.py"}
    assert by_path["result.txt"].content == b"forty-two"
    assert by_path["result.txt"].sha256 == hashlib.sha256(b"forty-two").hexdigest()
    assert by_path["out/deep/data.bin"].size == 256
    assert by_path["main.py"].content.endswith(b"# edited")


async def test_hardlinks_are_not_returned_as_extra_copies(backend: SandboxBackend) -> None:
    source = "import os\nopen('a.txt', 'w').write('a')\nos.link('a.txt', 'b.txt')\n"
    result = await run_job(backend, source)
    paths = [f.path for f in result.files]
    assert len(paths) <= 1  # docker keeps the first as a regular file, bwrap drops both


async def test_huge_file_hits_the_size_limit(backend: SandboxBackend) -> None:
    source = "open('big.bin', 'wb').write(b'x' * 3_000_000)"
    result = await run_job(backend, source, max_file_bytes=1_000_000)
    assert result.outcome is Outcome.FAILED
    assert "File too large" in result.stderr
    assert all(f.size <= 1_000_000 for f in result.files)


async def test_closing_stdout_early_does_not_end_the_job(backend: SandboxBackend) -> None:
    source = (
        "import os, time\n"
        "os.close(1)\n"
        "os.close(2)\n"
        "time.sleep(0.5)\n"
        "open('still-running.txt', 'w').write('yes')\n"
    )
    result = await run_job(backend, source)
    assert [f.path for f in result.files] == ["still-running.txt"]


async def test_non_utf8_output_is_replaced_not_fatal(backend: SandboxBackend) -> None:
    source = "import sys\nsys.stdout.buffer.write(b'ok \\xff\\xfe \\xe2\\x82\\xac\\x00\\n')"
    result = await run_job(backend, source)
    assert result.outcome is Outcome.SUCCEEDED
    assert result.stdout == "ok \ufffd\ufffd \u20ac\ufffd\n"


async def test_cancel_kills_a_running_job(backend: SandboxBackend) -> None:
    cancel = asyncio.Event()
    job = asyncio.create_task(run_job(backend, "import time; time.sleep(60)", cancel=cancel))
    await asyncio.sleep(0.8)
    started = time.monotonic()
    cancel.set()
    result = await job
    assert result.outcome is Outcome.CANCELLED
    assert time.monotonic() - started < 5


async def test_invalid_paths_are_rejected_before_running(backend: SandboxBackend) -> None:
    result = await run_job(backend, "print(1)", files={"../escape.py": b""})
    assert result.outcome is Outcome.ERROR
    assert result.error is not None and "invalid file path" in result.error
