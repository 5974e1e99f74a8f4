"""One ranking of how a run ended, the same for every backend.

The unit tests read the ranking as a reviewer would: a literal table of which outcome wins when
two conditions hold. The sandbox test makes a real program fill its work directory and then run
out of memory on each backend: it must end the same way everywhere (bubblewrap used to say
``output_exceeded`` where Docker said ``memory_exceeded``)."""

from __future__ import annotations

import itertools

import pytest

from executor.backends import Outcome, SandboxBackend
from executor.backends.supervision import OUTCOME_RANKING, Ending, rank_outcome
from tests.executor.helpers import run_job

STRONGEST_FIRST = [
    "cancelled",
    "never_started",
    "timed_out",
    "memory_exceeded",
    "work_full",
    "output_exceeded",
]
ALONE = {
    "cancelled": Outcome.CANCELLED,
    "never_started": Outcome.ERROR,
    "timed_out": Outcome.TIMED_OUT,
    "memory_exceeded": Outcome.MEMORY_EXCEEDED,
    "work_full": Outcome.OUTPUT_EXCEEDED,
    "output_exceeded": Outcome.OUTPUT_EXCEEDED,
}


def test_the_ranking_is_the_reviewed_order():
    assert [condition for condition, _ in OUTCOME_RANKING] == STRONGEST_FIRST
    assert dict(OUTCOME_RANKING) == ALONE


@pytest.mark.parametrize(("condition", "outcome"), ALONE.items())
def test_each_condition_alone_decides_whatever_the_exit_code(condition, outcome):
    for exit_code in (0, 1, 137, None):
        assert rank_outcome(Ending(exit_code, **{condition: True})) == outcome


@pytest.mark.parametrize(("stronger", "weaker"), list(itertools.combinations(STRONGEST_FIRST, 2)))
def test_the_stronger_of_two_conditions_wins(stronger, weaker):
    assert rank_outcome(Ending(1, **{stronger: True, weaker: True})) == ALONE[stronger]


@pytest.mark.parametrize(("exit_code", "outcome"), [(0, Outcome.SUCCEEDED), (3, Outcome.FAILED)])
def test_without_a_condition_the_exit_code_decides(exit_code, outcome):
    assert rank_outcome(Ending(exit_code)) == outcome


FILL_THEN_EAT = """
import os
try:
    with open("fill", "wb") as f:
        while True:
            f.write(b"x" * 65536)
            f.flush()
except OSError as exc:
    print("work dir full:", exc.strerror, flush=True)
eaten = []
while True:
    eaten.append(b"m" * (1 << 20))  # written pages: counted by a cgroup and an rlimit alike
"""


@pytest.mark.slow
async def test_a_full_work_dir_then_a_memory_bomb_ends_the_same_on_every_backend(
    backend: SandboxBackend,
):
    result = await run_job(backend, FILL_THEN_EAT, files_total_bytes=1_000_000)
    assert "work dir full: No space left on device" in result.stdout, result
    assert result.outcome == Outcome.MEMORY_EXCEEDED, result
