"""Output is live and survives a kill, on every backend (#24): the interpreter runs unbuffered,
so what a program printed without flushing reaches the sink as it is printed and is kept when
the program is killed for its time or its memory; coalescing keeps a program that writes one
character at a time to a bounded number of chunks."""

from __future__ import annotations

import pytest

from executor.backends import Outcome, SandboxBackend
from executor.backends.streams import MAX_EVENTS
from tests.executor.helpers import run_job

pytestmark = pytest.mark.slow

TICK_SLEEP_TOCK = "import time\nprint('tick')\ntime.sleep(2)\nprint('tock')\n"


async def test_an_unflushed_print_arrives_before_the_program_sleeps(backend: SandboxBackend):
    chunks: list[tuple[str, str]] = []
    result = await run_job(backend, TICK_SLEEP_TOCK, chunks=chunks)
    assert result.outcome == Outcome.SUCCEEDED, result
    # buffered, both lines came at exit in one chunk; live, 'tick' came 2 s before 'tock'
    # (unbuffered, print writes its text and its end apart: on a busy host two chunks)
    texts = [text for stream, text in chunks if stream == "stdout"]
    tock = next(i for i, text in enumerate(texts) if "tock" in text)
    assert "".join(texts[:tock]) == "tick\n" and "".join(texts[tock:]) == "tock\n"


async def test_output_printed_before_a_timeout_kill_is_kept(backend: SandboxBackend):
    source = "import time\nprint('before the kill')\ntime.sleep(60)\n"
    result = await run_job(backend, source, wall_time_s=1.5)
    assert result.outcome == Outcome.TIMED_OUT, result
    assert result.stdout == "before the kill\n"


async def test_output_printed_before_an_out_of_memory_kill_is_kept(backend: SandboxBackend):
    source = (
        "import sys\nprint('before the bomb')\nprint('to stderr', file=sys.stderr)\n"
        "eaten = []\nwhile True:\n    eaten.append(b'm' * (1 << 20))\n"
    )
    result = await run_job(backend, source)
    assert result.outcome == Outcome.MEMORY_EXCEEDED, result
    assert result.stdout == "before the bomb\n"
    assert result.stderr.startswith("to stderr\n")


async def test_a_hundred_thousand_one_character_writes_make_few_chunks(backend: SandboxBackend):
    chunks: list[tuple[str, str]] = []
    source = "import sys\nfor _ in range(100_000):\n    sys.stdout.write('x')\n"
    result = await run_job(backend, source, chunks=chunks, wall_time_s=30.0)
    assert result.outcome == Outcome.SUCCEEDED, result
    assert result.stdout == "x" * 100_000
    assert "".join(text for _, text in chunks) == result.stdout
    print(f"{backend.name}: 100000 one-character writes -> {len(chunks)} chunks")
    assert len(chunks) <= MAX_EVENTS
