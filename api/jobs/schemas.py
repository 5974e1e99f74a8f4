"""Request and response models of code-execution jobs."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic import model_validator as model_check

from api.models import JobStatus
from executor.backends.base import (
    MAX_LIMITS,
    InvalidJob,
    file_and_directory,
    validate_relative_path,
)

RelativePath = Annotated[
    str,
    Field(
        min_length=1,
        max_length=255,
        description="Relative POSIX path inside the job's working directory, e.g. `pkg/util.py`",
    ),
]
Argument = Annotated[str, StringConstraints(max_length=4096)]


def _checked_path(path: str) -> str:
    try:
        return validate_relative_path(path)
    except InvalidJob as exc:
        raise ValueError(
            "must be a relative path without '..', '.', '//' or a leading '/'"
        ) from exc


MAX_INPUT_FILES = 100


class JobInputFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: RelativePath
    content: str
    encoding: Literal["utf8", "base64"] = "utf8"

    _path_ok = field_validator("path")(_checked_path)

    @model_check(mode="after")
    def _content_decodes(self) -> JobInputFile:
        self.decoded()
        return self

    def decoded(self) -> bytes:
        if self.encoding == "utf8":
            return self.content.encode()
        try:
            return base64.b64decode(self.content, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"{self.path}: content is not valid base64") from exc


ABSURD_LIMIT_FACTOR = 100
"""A limit asked for above this many times the sandbox's hard maximum is refused (422), not
lowered: it is a mistake (a unit mixed up, `1e999999`), and lowering it hides the mistake."""


class JobLimitsRequest(BaseModel):
    """Limits asked for: above the server's maxima they are lowered to them; above 100 times the
    sandbox's hard maxima (the `maximum` of each field) they are refused, 422."""

    model_config = ConfigDict(extra="forbid")

    wall_time_s: float | None = Field(
        default=None,
        gt=0,
        le=ABSURD_LIMIT_FACTOR * MAX_LIMITS.wall_time_s,
        allow_inf_nan=False,
        description="Wall-clock seconds",
    )
    memory_mb: int | None = Field(
        default=None,
        ge=16,
        le=ABSURD_LIMIT_FACTOR * MAX_LIMITS.memory_mb,
        description="Memory (and swap) in MiB",
    )
    output_bytes: int | None = Field(
        default=None,
        ge=1,
        le=ABSURD_LIMIT_FACTOR * MAX_LIMITS.output_bytes,
        description=(
            "stdout + stderr together, counted as stored: their UTF-8 JSON text (a newline is"
            " 2 bytes) and 128 bytes for each output event after each stream's first; the rest"
            " is cut"
        ),
    )


class JobLimits(BaseModel):
    wall_time_s: float
    memory_mb: int
    output_bytes: int


class JobCreate(BaseModel):
    """Either `source` (becomes the entrypoint file) or `files`, not both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"source": "print(input()[::-1])", "stdin": "hello"}]},
    )

    runtime: str = Field(
        default="python", max_length=64, description="One of GET /runtimes (422 otherwise)"
    )
    source: str | None = None
    files: list[JobInputFile] | None = Field(default=None, min_length=1, max_length=MAX_INPUT_FILES)
    entrypoint: RelativePath = "main.py"
    stdin: str = ""
    args: list[Argument] = Field(default_factory=list, max_length=100)
    limits: JobLimitsRequest = Field(default_factory=JobLimitsRequest)

    _entrypoint_ok = field_validator("entrypoint")(_checked_path)

    @field_validator("args")
    @classmethod
    def _no_nul(cls, args: list[str]) -> list[str]:
        if any("\x00" in arg for arg in args):
            raise ValueError("arguments may not contain NUL characters")
        return args

    @model_check(mode="after")
    def _source_or_files(self) -> JobCreate:
        if (self.source is None) == (self.files is None):
            raise ValueError("give exactly one of `source` or `files`")
        if self.files is not None:
            paths = [f.path for f in self.files]
            if len(set(paths)) != len(paths):
                raise ValueError("file paths must be unique")
            if clash := file_and_directory(paths):
                raise ValueError(f"{clash!r} cannot be both a file and a directory")
            if self.entrypoint not in paths:
                raise ValueError(f"entrypoint {self.entrypoint!r} is not among the files")
        return self

    def input_files(self) -> dict[str, bytes]:
        if self.source is not None:
            return {self.entrypoint: self.source.encode()}
        return {f.path: f.decoded() for f in self.files or []}


PurgeReason = Literal["retention", "quota"]


class JobStorageRead(BaseModel):
    """What the jobs keep in the database, and the retention that bounds it."""

    jobs: int = Field(description="Job rows, purged ones included")
    purged_jobs: int = Field(description="Jobs whose input, output, files and events were removed")
    events: int = Field(description="Stored output and status events")
    stored_bytes: int = Field(description="Input, output, files and events of ended jobs")
    file_bytes: int = Field(description="Output files, part of stored_bytes")
    retention_days: float = Field(description="Ended jobs' output is kept this long (0: forever)")
    storage_per_user_bytes: int = Field(description="Each user's quota (0: none)")


class JobFileRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    path: str
    size: int
    sha256: str


class JobOrigin(BaseModel):
    """What started a job that is not a plain run of its owner's."""

    kind: str = Field(description="`bug_reproduction`: a bug's reproduction script")
    bug_id: int | None = Field(default=None, description="The bug it reproduces")


class JobHint(BaseModel):
    """What a failed run most likely means, for whoever reads its traceback."""

    code: Literal["stdin_exhausted"] = Field(
        description="`stdin_exhausted`: input() read past the end of the standard input"
    )
    message: str


class JobSummary(BaseModel):
    """A job without its output text (the `exit` event carries this)."""

    id: uuid.UUID
    owner_id: int
    status: JobStatus
    runtime: str
    entrypoint: str
    args: list[str]
    limits: JobLimits
    exit_code: int | None
    signal: int | None
    stdout_truncated: bool
    stderr_truncated: bool
    duration_ms: int | None = Field(description="Wall time of the run inside the sandbox")
    cpu_time_ms: int | None = Field(
        default=None,
        description="CPU time (user + system) of the script and its children, in ms; null "
        "while the job runs or when the sandbox could not measure it",
    )
    peak_memory_bytes: int | None = Field(
        default=None,
        description="Peak memory of the script and its children, in bytes; null while the job "
        "runs or when the sandbox could not measure it",
    )
    error: str | None = Field(description="What went wrong in the infrastructure (status error)")
    files: list[JobFileRead]
    files_truncated: bool
    attempts: int
    cancel_requested: bool
    hint: JobHint | None = Field(
        default=None, description="Set on a failed job when its error has a likely plain cause"
    )
    origin: JobOrigin | None = Field(
        default=None, description="Set when the job was not started as a plain run"
    )
    created_at: datetime
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    purged_at: datetime | None = Field(
        default=None,
        description="When the job's input, output, files and events were removed (its row stays)",
    )
    purge_reason: PurgeReason | None = Field(
        default=None,
        description="`retention`: older than the retention period; `quota`: the owner's "
        "storage quota was full and this was among their oldest jobs",
    )


_JOB_EXAMPLE: dict[str, Any] = {
    "id": "0f8b7a9e-3c1d-4e2f-9a6b-5d4c3b2a1f00",
    "owner_id": 2,
    "status": "succeeded",
    "runtime": "python",
    "entrypoint": "main.py",
    "args": [],
    "limits": {"wall_time_s": 10.0, "memory_mb": 256, "output_bytes": 1000000},
    "exit_code": 0,
    "signal": None,
    "stdout": "olleh\n",
    "stderr": "",
    "stdout_truncated": False,
    "stderr_truncated": False,
    "duration_ms": 84,
    "cpu_time_ms": 31,
    "peak_memory_bytes": 9437184,
    "error": None,
    "files": [],
    "files_truncated": False,
    "attempts": 1,
    "cancel_requested": False,
    "created_at": "2026-11-21T10:00:00Z",
    "queued_at": "2026-11-21T10:00:00Z",
    "started_at": "2026-11-21T10:00:00.020Z",
    "finished_at": "2026-11-21T10:00:00.104Z",
}


class JobRead(JobSummary):
    model_config = ConfigDict(json_schema_extra={"examples": [_JOB_EXAMPLE]})

    stdout: str
    stderr: str


class JobInputFileRead(BaseModel):
    """An input file as the sandbox got it: UTF-8 text as such, anything else in base64."""

    path: str
    content: str
    encoding: Literal["utf8", "base64"]
    size: int = Field(description="Bytes, decoded")


class JobDetail(JobRead):
    """A job with what it ran, as it was submitted: resubmitting `source` (or `files`),
    `entrypoint`, `stdin`, `args` and `runtime` runs the same thing again. Lists leave these out.

    A job given as one UTF-8 file at its entrypoint, or as `source`, has `source` (and no
    `input_files`); any other has `input_files`. A purged job has neither (see `purged_at`)."""

    source: str | None = Field(description="The entrypoint's text, for a one-file job")
    input_files: list[JobInputFileRead] | None = Field(
        description="The input files, for a job of several files (or of one non-UTF-8 file)"
    )
    stdin: str = Field(description="Standard input (not UTF-8 bytes, if any, replaced)")

    # JobRead's example with what that job ran, so the example validates against this schema.
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_JOB_EXAMPLE,
                    "source": "print(input()[::-1])",
                    "input_files": None,
                    "stdin": "hello",
                }
            ]
        }
    )


class RuntimeRead(BaseModel):
    name: str
    description: str
    available: bool
    backend: str | None = Field(description="docker, bwrap, or null when unavailable/external")
    detail: str
    notice: str | None = Field(
        default=None,
        description="Set when jobs run on a weaker sandbox than Docker: what and how to get Docker",
    )
    default_limits: JobLimits
    max_limits: JobLimits
    max_input_bytes: int = Field(
        description="Decoded source or files plus stdin of one job, at most (413 above)"
    )
    max_input_files: int = Field(description="Input files of one job, at most (422 above)")
    reason: str | None = Field(
        default=None, description="Why the runtime is not available here, and the fix"
    )
    packages: dict[str, str] = Field(
        default_factory=dict, description="Its Debian packages and their versions"
    )
