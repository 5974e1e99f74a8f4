"""What a failed job most likely means, said plainly next to its traceback.

Read from the job's own result: the last line of its standard error is the one Python writes for
an uncaught exception. A script can print that line itself; all it gains is the same hint.
"""

from __future__ import annotations

from sqlalchemy import inspect

from api.jobs.schemas import JobHint
from api.models import Job, JobStatus

INPUT_AT_EOF = "EOFError: EOF when reading a line"
"""What `input()` raises when standard input has no more lines, as the traceback ends."""

STDIN_EXHAUSTED = (
    "The script read more than the standard input it was given: input() found no more lines. "
    "Give it one line of standard input for each input() call, or handle EOFError."
)


def job_hint(job: Job) -> JobHint | None:
    """A hint for ``job``'s result, or None (also when its output is not loaded: lists)."""
    if job.status != JobStatus.failed or job.exit_code != 1:
        return None
    if "stderr" in inspect(job).unloaded or job.stderr_truncated:
        return None
    lines = job.stderr.rstrip().splitlines()
    if lines and lines[-1] == INPUT_AT_EOF:
        return JobHint(code="stdin_exhausted", message=STDIN_EXHAUSTED)
    return None
