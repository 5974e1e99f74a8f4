"""What other domains do when a job ends: the registry of job completion hooks.

A domain that submits jobs for itself (a bug's reproduction) describes what happens when such a
job ends as a `JobHook`, without registering it on import. `api.wiring.wire_job_hooks` puts
every hook into `registry` once at start-up, for `nimbus serve` and `nimbus worker` alike; the
queue, the visibility check and retention then look a job's ``on_finish`` up here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Job, User

FinishHook = Callable[[AsyncSession, Job], Awaitable[None]]
ReaderCheck = Callable[[AsyncSession, User, Job], Awaitable[bool]]
KeptWhile = Callable[[], ColumnElement[bool]]


@dataclass(frozen=True)
class JobHook:
    """What happens to jobs submitted with ``on_finish=name``.

    ``on_finish(session, job)`` runs when such a job ends, in the transaction that records the
    end (a failing hook is logged and does not undo the end). ``also_readable_by(session, user,
    job)`` says who besides the owner (and admins) may read such a job: its result, events and
    files. ``keep_while()`` is a condition on the `Job` row (SQL): while it holds, retention
    removes nothing of such a job (a bug's reproduction while the bug is not closed)."""

    name: str
    on_finish: FinishHook
    also_readable_by: ReaderCheck | None = None
    keep_while: KeptWhile | None = None


class HookConflict(RuntimeError):
    """Two different hooks claim one name."""


class JobHooks:
    def __init__(self) -> None:
        self._hooks: dict[str, JobHook] = {}

    def register(self, hook: JobHook) -> None:
        """Add ``hook``; registering the same hook again changes nothing."""
        known = self._hooks.get(hook.name)
        if known is not None and known != hook:
            raise HookConflict(f"another job hook is already registered as {hook.name!r}")
        self._hooks[hook.name] = hook

    def unregister(self, name: str) -> None:
        self._hooks.pop(name, None)

    def get(self, name: str | None) -> JobHook | None:
        return None if name is None else self._hooks.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._hooks

    def kept_while(self) -> dict[str, KeptWhile]:
        """Per hook that keeps its jobs: the SQL condition that keeps them."""
        return {n: h.keep_while for n, h in self._hooks.items() if h.keep_while is not None}


registry = JobHooks()
"""This process's hooks, filled by `api.wiring.wire_job_hooks`."""
