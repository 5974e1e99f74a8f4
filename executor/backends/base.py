"""The sandbox backend interface: what a job is, what it returns, and how output streams.

A worker builds a `JobSpec` (files, entrypoint, args, stdin, `Limits`), calls
``await backend.run(spec, sink, cancel)`` and stores the `RunResult`. While the job runs, the
backend awaits ``sink("stdout" | "stderr", text)`` for every chunk of output it keeps (after the
output cap nothing more is sent). Setting ``cancel`` kills the job (outcome ``cancelled``).

`run` never raises for anything the job did; infrastructure failures come back as outcome
``error`` with a message. `check` raises `ExecutorUnavailable` whose message says how to fix it.
Limits are clamped to `MAX_LIMITS` by `Limits.clamped`; `DEFAULT_LIMITS` are the server defaults.
"""

from __future__ import annotations

import asyncio
import hashlib
import posixpath
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Literal, Protocol

StreamName = Literal["stdout", "stderr"]
OutputSink = Callable[[StreamName, str], Awaitable[None]]
"""Receives live output chunks; decoded as UTF-8 with replacement characters."""


class Outcome(StrEnum):
    """How a run ended; the values are the API's final job statuses."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    MEMORY_EXCEEDED = "memory_exceeded"
    OUTPUT_EXCEEDED = "output_exceeded"
    CANCELLED = "cancelled"
    ERROR = "error"


class ExecutorUnavailable(RuntimeError):
    """No usable sandbox; the message tells the operator how to fix it."""


class InvalidJob(ValueError):
    """The job spec itself is unusable (bad path, too many files, ...)."""


@dataclass(frozen=True, slots=True)
class Limits:
    wall_time_s: float = 10.0
    memory_mb: int = 256
    output_bytes: int = 1_000_000
    """Cap on stdout + stderr together; the rest is discarded and flagged as truncated."""
    pids: int = 64
    cpus: float = 1.0
    max_files: int = 100
    """Cap on output files collected (and input files accepted)."""
    max_file_bytes: int = 10_000_000
    """Per-file size cap (RLIMIT_FSIZE in the sandbox, and the output file cap)."""
    tmpfs_mb: int = 64
    nofile: int = 256
    stdin_bytes: int = 1_000_000
    files_total_bytes: int = 20_000_000
    """Cap on the output-file archive read back from the sandbox."""

    def clamped(self, maximum: Limits | None = None) -> Limits:
        """Every field limited to ``maximum`` (default `MAX_LIMITS`) and at least a sane floor."""
        top = maximum or MAX_LIMITS
        values: dict[str, float] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            floor = 0.1 if isinstance(value, float) else 1
            values[f.name] = max(floor, min(value, getattr(top, f.name)))
        return replace(self, **values)  # type: ignore[arg-type]


DEFAULT_LIMITS = Limits()
MAX_LIMITS = Limits(
    wall_time_s=60.0,
    memory_mb=1024,
    output_bytes=10_000_000,
    pids=256,
    cpus=2.0,
    max_files=1000,
    max_file_bytes=50_000_000,
    tmpfs_mb=256,
    nofile=1024,
    stdin_bytes=10_000_000,
    files_total_bytes=100_000_000,
)


def validate_relative_path(path: str) -> str:
    """Return ``path`` normalised, or raise `InvalidJob` for absolute, ``..`` or odd names."""
    if not path or "\x00" in path or "\\" in path or path.startswith("/"):
        raise InvalidJob(f"invalid file path: {path!r}")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts) or len(path) > 255:
        raise InvalidJob(f"invalid file path: {path!r}")
    return posixpath.join(*parts)


@dataclass(frozen=True, slots=True)
class JobSpec:
    files: Mapping[str, bytes] = field(default_factory=dict)
    entrypoint: str = "main.py"
    args: list[str] = field(default_factory=list)
    stdin: bytes = b""
    limits: Limits = DEFAULT_LIMITS
    image: str | None = None
    """The Docker image of the job's runtime; None: the backend's own. Bubblewrap ignores it."""

    @classmethod
    def from_source(cls, source: str, **kwargs: object) -> JobSpec:
        """A one-file job: ``source`` becomes ``main.py``."""
        return cls(files={"main.py": source.encode()}, **kwargs)  # type: ignore[arg-type]

    def validated(self) -> JobSpec:
        """Check paths, counts and sizes; return the spec with normalised file names."""
        files = {validate_relative_path(p): bytes(c) for p, c in self.files.items()}
        entrypoint = validate_relative_path(self.entrypoint)
        if entrypoint not in files:
            raise InvalidJob(f"entrypoint {entrypoint!r} is not among the files")
        if clash := file_and_directory(files):
            raise InvalidJob(f"{clash!r} cannot be both a file and a directory")
        if len(files) > self.limits.max_files:
            raise InvalidJob(f"too many files: {len(files)} > {self.limits.max_files}")
        for path, content in files.items():
            if len(content) > self.limits.max_file_bytes:
                raise InvalidJob(f"file too large: {path}")
        if len(self.stdin) > self.limits.stdin_bytes:
            raise InvalidJob("stdin too large")
        if any("\x00" in arg for arg in self.args):
            raise InvalidJob("arguments may not contain NUL bytes")
        return replace(self, files=files, entrypoint=entrypoint)


def file_and_directory(paths: Iterable[str]) -> str | None:
    """A path given as a file that another path needs as its directory (``d`` and ``d/x.py``)."""
    files = set(paths)
    for path in files:
        parent = posixpath.dirname(path)
        while parent:
            if parent in files:
                return parent
            parent = posixpath.dirname(parent)
    return None


@dataclass(frozen=True, slots=True)
class OutputFile:
    path: str
    size: int
    sha256: str
    content: bytes

    @classmethod
    def of(cls, path: str, content: bytes) -> OutputFile:
        return cls(path, len(content), hashlib.sha256(content).hexdigest(), content)


@dataclass(slots=True)
class RunResult:
    outcome: Outcome
    exit_code: int | None = None
    signal: int | None = None
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    duration_ms: int = 0
    files: list[OutputFile] = field(default_factory=list)
    files_truncated: bool = False
    error: str | None = None
    cpu_time_ms: int | None = None
    """CPU time, user + system, of the program and every process it started; None: unknown.
    Measured by the kernel and reported through a channel the program cannot write to."""
    peak_memory_bytes: int | None = None
    """The program's peak memory (see each backend for what it counts); None: unknown."""


class SandboxBackend(Protocol):
    """What a worker needs from a sandbox. Implementations: docker, docker pool, bwrap."""

    name: str

    async def check(self) -> None:
        """Raise `ExecutorUnavailable` (with how to fix it) if jobs cannot run."""

    async def run(
        self, spec: JobSpec, sink: OutputSink | None = None, cancel: asyncio.Event | None = None
    ) -> RunResult:
        """Run one job to completion; never raises for what the job did."""

    async def close(self) -> None:
        """Release connections and pre-started containers."""


def outcome_for_exit(exit_code: int | None) -> Outcome:
    return Outcome.SUCCEEDED if exit_code == 0 else Outcome.FAILED


def split_exit_status(status: int) -> tuple[int, int | None]:
    """Map a shell-style status (128+N means signal N) to (exit_code, signal)."""
    if status > 128 and status - 128 < 65:
        return status, status - 128
    return status, None
