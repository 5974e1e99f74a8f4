"""Start-up wiring of what the domains contribute to each other, done once per process.

`nimbus serve` (through `api.main.create_app`) and `nimbus worker` both call `wire_job_hooks`
before any job can end, so a reproduction's verdict is recorded whichever process runs it."""

from __future__ import annotations

from api.bugs.reproductions import REPRODUCTION_HOOK
from api.jobs.hooks import JobHook, JobHooks, registry

JOB_HOOKS: tuple[JobHook, ...] = (REPRODUCTION_HOOK,)
"""Every job completion hook of Nimbus."""


def wire_job_hooks(hooks: JobHooks = registry) -> JobHooks:
    """Register every job completion hook (again: no change) and return the registry."""
    for hook in JOB_HOOKS:
        hooks.register(hook)
    return hooks
