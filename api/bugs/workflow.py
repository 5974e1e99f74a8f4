"""The bug workflow as data: every allowed transition, who may make it, what it needs.

This table is the single source of truth: the service enforces it, GET /bugs/{id}/transitions
publishes it, and GET /roles shows the permissions it names.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.models import BugStatus, Resolution

ALL_RESOLUTIONS = frozenset(Resolution)
CLOSING_WITHOUT_WORK = frozenset({Resolution.duplicate, Resolution.wont_fix, Resolution.invalid})


@dataclass(frozen=True)
class Transition:
    source: BugStatus
    target: BugStatus
    permission: str
    resolutions: frozenset[Resolution] = frozenset()  # non-empty: a resolution is required
    clears_resolution: bool = False
    why: str = ""

    @property
    def requires_resolution(self) -> bool:
        return bool(self.resolutions)


TRANSITIONS: tuple[Transition, ...] = (
    Transition(BugStatus.open, BugStatus.in_progress, "bugs:work", why="start work"),
    Transition(BugStatus.in_progress, BugStatus.open, "bugs:work", why="stop work"),
    Transition(
        BugStatus.in_progress, BugStatus.resolved, "bugs:work", ALL_RESOLUTIONS, why="resolve"
    ),
    Transition(BugStatus.resolved, BugStatus.closed, "bugs:verify", why="verify the fix"),
    Transition(
        BugStatus.resolved,
        BugStatus.open,
        "bugs:verify",
        clears_resolution=True,
        why="verification failed",
    ),
    Transition(
        BugStatus.closed, BugStatus.open, "bugs:verify", clears_resolution=True, why="reopen"
    ),
    Transition(
        BugStatus.open,
        BugStatus.closed,
        "bugs:verify",
        CLOSING_WITHOUT_WORK,
        why="close without work (duplicate, won't fix, invalid)",
    ),
)


def find(source: BugStatus, target: BugStatus) -> Transition | None:
    return next((t for t in TRANSITIONS if t.source == source and t.target == target), None)


def from_status(source: BugStatus) -> list[Transition]:
    return [t for t in TRANSITIONS if t.source == source]
