"""What every backend does the same while a job runs and when it ends: one supervision loop
(wall clock, cancel, output cap, then stop and kill) and one ranking of how the run ended.

A backend reports what it saw as an `Ending`; `rank_outcome` turns it into the job's `Outcome`
by `OUTCOME_RANKING`, the first condition that holds winning. So a run that both filled its work
directory and ran out of memory ends ``memory_exceeded`` on Docker and on bubblewrap alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from executor.backends.base import Outcome, outcome_for_exit


@dataclass(frozen=True, slots=True)
class Ending:
    """What a backend observed about how a run ended."""

    exit_code: int | None
    cancelled: bool = False
    """Someone asked to stop the job (the ``cancel`` event)."""
    never_started: bool = False
    """The sandbox never ran the program: not the program's fault."""
    timed_out: bool = False
    """The wall clock ran out (or the CPU-seconds rlimit, SIGXCPU)."""
    memory_exceeded: bool = False
    """OOM-killed (Docker's memory cgroup), or died of ``MemoryError`` (bubblewrap's rlimit)."""
    work_full: bool = False
    """The work directory had no room left."""
    output_exceeded: bool = False
    """stdout + stderr went past the output cap."""


OUTCOME_RANKING: tuple[tuple[str, Outcome], ...] = (
    ("cancelled", Outcome.CANCELLED),
    ("never_started", Outcome.ERROR),
    ("timed_out", Outcome.TIMED_OUT),
    ("memory_exceeded", Outcome.MEMORY_EXCEEDED),
    ("work_full", Outcome.OUTPUT_EXCEEDED),
    ("output_exceeded", Outcome.OUTPUT_EXCEEDED),
)
"""Which condition decides the outcome when several hold, strongest first; with none, the exit
code does (0: ``succeeded``, else ``failed``). Why this order: a cancel is the user's word; a
sandbox that never ran says nothing about the program; our own kills (time) come before what
the program ran into, and a dead program's memory before the room it had to write."""


def rank_outcome(ending: Ending) -> Outcome:
    for condition, outcome in OUTCOME_RANKING:
        if getattr(ending, condition):
            return outcome
    return outcome_for_exit(ending.exit_code)


@dataclass(slots=True)
class Supervised:
    """What the supervision loop did."""

    timed_out: bool = False
    cancelled: bool = False
    stopped: bool = False
    """The run had not ended by itself: it was asked to stop (time, cancel or output cap)."""


async def supervise(
    ended: asyncio.Future[Any],
    *,
    deadline: float,
    cancel: asyncio.Event | None,
    overflow: asyncio.Event,
    stop: Callable[[], Awaitable[None]],
    kill: Callable[[], Awaitable[None]],
    stop_grace_s: float,
    kill_grace_s: float,
) -> Supervised:
    """Wait for ``ended`` until ``deadline`` (monotonic), a ``cancel`` or an output ``overflow``.
    If it has not ended by then: ``stop()`` (the sandbox's supervisor ends the program and
    reports, its files still readable), wait ``stop_grace_s``; still running: ``kill()``, wait
    ``kill_grace_s``. ``ended`` may still be pending on return: what that means is the
    backend's to say."""
    outcome = Supervised()
    overflowed = asyncio.ensure_future(overflow.wait())
    cancelled = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
    watch: set[asyncio.Future[Any]] = {ended, overflowed}
    if cancelled is not None:
        watch.add(cancelled)
    try:
        while not ended.done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                outcome.timed_out = True
                break
            done, _ = await asyncio.wait(
                watch, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            if cancelled is not None and cancelled in done:
                outcome.cancelled = True
                break
            if overflowed in done:
                break
        if not ended.done():
            outcome.stopped = True
            await stop()
            await asyncio.wait({ended}, timeout=stop_grace_s)
        if not ended.done():
            await kill()
            await asyncio.wait({ended}, timeout=kill_grace_s)
    finally:
        for waiter in (overflowed, cancelled):
            if waiter is not None:
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter
    return outcome
