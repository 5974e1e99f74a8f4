"""Request and response models for bugs, transitions, comments, activity and watchers."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from api.models import BugStatus, Priority, Resolution, Severity, Verdict


class BugPriority(StrEnum):
    """Priorities as the API spells them (stored as `Priority`, a sortable small integer)."""

    lowest = "lowest"
    low = "low"
    medium = "medium"
    high = "high"
    highest = "highest"


Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Markdown = Annotated[str, Field(max_length=100_000)]
Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=50),
]
MAX_LABELS = 20
Labels = Annotated[list[Label], Field(max_length=MAX_LABELS)]
ReproScript = Annotated[
    str, Field(max_length=200_000, description="Python 3 source; non-zero exit = reproduces")
]


_PRIORITY_NAMES = {p.value: BugPriority(p.name) for p in Priority}


def priority_name(value: int) -> BugPriority:
    return _PRIORITY_NAMES[value]


def _unique(labels: list[str]) -> list[str]:
    return sorted(set(labels))


class UserRef(BaseModel):
    id: int
    full_name: str


class BugCan(BaseModel):
    """What the caller may do to this bug now, from the permission table: a screen offers these
    and only these."""

    edit: bool = Field(description="Change its title, description, priority, severity, labels")
    assign: bool = Field(description="Change its assignee")
    delete: bool
    comment: bool
    reproduce: bool = Field(description="Run its reproduction script")
    transition: list[BugStatus] = Field(
        description="The statuses the caller may move it to now (what each needs: "
        "GET /bugs/{id}/transitions)"
    )


class BugCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Login button does nothing on Safari",
                    "description": "Steps:\n1. Open /login\n2. Click **Sign in**",
                    "priority": "high",
                    "severity": "major",
                    "labels": ["ui", "safari"],
                    "repro_script": "import sys\nsys.exit(1)",
                }
            ]
        },
    )

    title: Title
    description: Markdown = ""
    priority: BugPriority = BugPriority.medium
    severity: Severity = Severity.normal
    labels: Labels = []
    assignee_id: int | None = None
    repro_script: ReproScript | None = None

    _dedupe = field_validator("labels")(_unique)


class BugUpdate(BaseModel):
    """Partial edit. `labels` replaces the set; `add_labels`/`remove_labels` change it in place."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Markdown | None = None
    priority: BugPriority | None = None
    severity: Severity | None = None
    labels: Labels | None = None
    add_labels: Labels = []
    remove_labels: Labels = []
    assignee_id: int | None = None
    repro_script: ReproScript | None = None


class BugRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "key": "WEB-1",
                    "project_id": 1,
                    "project_key": "WEB",
                    "number": 1,
                    "title": "Login button does nothing on Safari",
                    "description": "Steps:\n1. Open /login\n2. Click **Sign in**",
                    "status": "in_progress",
                    "resolution": None,
                    "duplicate_of": None,
                    "priority": "high",
                    "severity": "major",
                    "labels": ["safari", "ui"],
                    "reporter": {"id": 3, "full_name": "Tess Tester"},
                    "assignee": {"id": 2, "full_name": "Ada Developer"},
                    "watching": True,
                    "repro_script": "import sys\nsys.exit(1)",
                    "reproduces": True,
                    "verdict": "reproduces",
                    "repro_job_id": "0f8b7a9e-3c1d-4e2f-9a6b-5d4c3b2a1f00",
                    "repro_checked_at": "2026-11-21T10:05:00Z",
                    "version": 3,
                    "created_at": "2026-11-21T10:00:00Z",
                    "updated_at": "2026-11-21T10:05:00Z",
                    "can": {
                        "edit": True,
                        "assign": True,
                        "delete": False,
                        "comment": True,
                        "reproduce": True,
                        "transition": ["open", "resolved"],
                    },
                }
            ]
        }
    )

    id: int
    key: str = Field(description="Human key, e.g. WEB-42; accepted wherever a bug id is")
    project_id: int
    project_key: str
    number: int
    title: str
    description: str
    status: BugStatus
    resolution: Resolution | None
    duplicate_of: str | None = Field(description="Key of the bug this one duplicates")
    priority: BugPriority
    severity: Severity
    labels: list[str]
    reporter: UserRef
    assignee: UserRef | None
    watching: bool = Field(description="Whether the caller watches this bug")
    repro_script: str | None
    reproduces: bool | None = Field(description="The latest verdict as a yes/no (None: unknown)")
    verdict: Verdict | None = Field(
        description="The latest reproduction run's verdict; `running` while it goes (after "
        "resolving as fixed: verifying the fix); None before the first run"
    )
    repro_job_id: str | None
    repro_checked_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    can: BugCan


class TransitionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: BugStatus
    resolution: Resolution | None = None
    duplicate_of: int | Annotated[str, StringConstraints(max_length=30)] | None = Field(
        default=None, description='The original: its id (42 or "42") or its key (WEB-42)'
    )
    comment: Markdown | None = None


class TransitionOption(BaseModel):
    to: BugStatus
    requires: list[Literal["resolution", "duplicate_of"]]
    resolutions: list[Resolution] = Field(description="Resolutions this transition accepts")


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100_000)]


class CommentUpdate(CommentCreate):
    pass


class CommentRead(BaseModel):
    id: int
    bug_id: int
    author: UserRef
    body: str
    edited_at: datetime | None
    version: int
    created_at: datetime


class ActivityRead(BaseModel):
    id: int
    at: datetime
    actor: UserRef | None
    field: str
    old: str | None
    new: str | None


class ReproductionRead(BaseModel):
    """One run of the bug's reproduction script: the evidence behind a verdict."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    bug_id: int
    job_id: uuid.UUID | None = Field(description="The run (None once the job was deleted)")
    verdict: Verdict = Field(
        description="`reproduces`: the script exited non-zero; `error`: the sandbox or a limit "
        "failed, which says nothing about the bug"
    )
    exit_code: int | None
    duration_ms: int | None = Field(description="Wall time of the run")
    cpu_ms: int | None = Field(
        validation_alias="cpu_time_ms", description="CPU time (user + system) of the script"
    )
    peak_memory_bytes: int | None
    build_id: int | None = Field(
        default=None, description="The project build the run imported; null: it imported none"
    )
    created_at: datetime
    finished_at: datetime | None
