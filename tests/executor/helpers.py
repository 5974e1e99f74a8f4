"""Small helpers for the sandbox tests."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from executor.backends import DockerBackend, JobSpec, Limits, RunResult, SandboxBackend

FAST = Limits(wall_time_s=10.0)


async def run_job(
    backend: SandboxBackend,
    source: str,
    *,
    stdin: bytes = b"",
    args: list[str] | None = None,
    files: dict[str, bytes] | None = None,
    cancel: asyncio.Event | None = None,
    chunks: list[tuple[str, str]] | None = None,
    **limits: Any,
) -> RunResult:
    """Run ``source`` as main.py; with the pool, first wait until a warm container is ready."""
    if isinstance(backend, DockerBackend) and backend.pool is not None:
        await backend.pool.wait_ready()
    spec = JobSpec(
        files={"main.py": source.encode(), **(files or {})},
        stdin=stdin,
        args=args or [],
        limits=replace(FAST, **limits),
    )

    async def sink(stream: str, text: str) -> None:
        if chunks is not None:
            chunks.append((stream, text))

    return await backend.run(spec, sink, cancel)
