"""Which results get the input() hint (the backends' real runs are in test_embedded/_live)."""

from __future__ import annotations

import pytest

from api.jobs.hints import INPUT_AT_EOF, job_hint
from api.models import Job, JobStatus

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/work/job/main.py", line 1, in <module>\n'
    f"{INPUT_AT_EOF}\n"
)


def _job(**values) -> Job:
    return Job(**{"status": JobStatus.failed, "exit_code": 1, "stderr": TRACEBACK, **values})


def test_input_at_the_end_of_stdin_gets_the_hint():
    hint = job_hint(_job())
    assert hint is not None and hint.code == "stdin_exhausted"


@pytest.mark.parametrize(
    "values",
    [
        {"stderr_truncated": True},  # the last line may not be the traceback's
        {"status": JobStatus.timed_out, "exit_code": None},
        {"exit_code": 3},  # the script chose its exit: it handled the error itself
        {"stderr": TRACEBACK + "then the script printed more\n"},
        {"stderr": "Traceback (most recent call last):\nEOFError: Ran out of input\n"},
        {"stderr": ""},
    ],
)
def test_other_results_get_none(values):
    assert job_hint(_job(**values)) is None
