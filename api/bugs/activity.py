"""The bug history, written in one place.

Field edits are recorded by a `before_flush` hook that diffs every changed Bug against what was
loaded, so no service path can change a bug without leaving a trace. Events that are not a column
change (creation, labels, comments, attachments) go through `record`, the only other writer.
The actor is the request's user, put on the session (`api.db.ACTOR_KEY`) by `current_user`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, UOWTransaction

from api.db import ACTOR_KEY as ACTOR_KEY  # where it lived first; reproductions read it here
from api.models import Bug, BugActivity, Priority

# Column -> the name the API and the history use for it.
TRACKED_FIELDS = {
    "title": "title",
    "description": "description",
    "status": "status",
    "resolution": "resolution",
    "duplicate_of_id": "duplicate_of_id",
    "priority": "priority",
    "severity": "severity",
    "assignee_id": "assignee_id",
    "repro_script": "repro_script",
    "reproduces": "reproduces",
}


def _text(column: str, value: Any) -> str | None:
    if value is None:
        return None
    if column == "priority":
        return Priority(value).name
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def record(
    session: Session | Any, bug_id: int, field: str, old: str | None, new: str | None
) -> None:
    """Append one history row in the caller's transaction (sync or async session)."""
    info = session.info
    session.add(
        BugActivity(bug_id=bug_id, actor_id=info.get(ACTOR_KEY), field=field, old=old, new=new)
    )


@event.listens_for(Session, "before_flush")
def _record_bug_edits(session: Session, _ctx: UOWTransaction, _instances: object) -> None:
    for obj in list(session.dirty):
        if not isinstance(obj, Bug) or obj.id is None:
            continue
        state = inspect(obj)
        for column, name in TRACKED_FIELDS.items():
            history = state.attrs[column].history
            if not history.has_changes():
                continue
            old = _text(column, history.deleted[0] if history.deleted else None)
            new = _text(column, history.added[0] if history.added else None)
            if old != new:
                record(session, obj.id, name, old, new)
