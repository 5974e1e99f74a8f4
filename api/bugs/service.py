"""Bug tracker rules: visibility, editing rights, assignment, the workflow, comments, watchers."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.attachments.repository import blob_keys_for_bugs, forget_blobs
from api.bugs import activity, repository, workflow
from api.bugs.exceptions import (
    BugNotFound,
    CommentNotFound,
    InvalidAssignee,
    InvalidTransition,
    NotBugEditor,
    NotCommentAuthor,
    StillReproduces,
    TooManyLabels,
)
from api.bugs.repository import BugFilters
from api.bugs.schemas import (
    MAX_LABELS,
    ActivityRead,
    BugCreate,
    BugRead,
    BugUpdate,
    CommentCreate,
    CommentRead,
    CommentUpdate,
    TransitionOption,
    TransitionRequest,
    UserRef,
    priority_name,
)
from api.concurrency import lock_for_write
from api.db import utcnow
from api.errors import Forbidden
from api.models import (
    Bug,
    BugActivity,
    BugStatus,
    Comment,
    Priority,
    Project,
    Reproduction,
    Resolution,
    Role,
    User,
    Verdict,
)
from api.notifications.service import notify
from api.pagination import PageParams, creation_order, paginate, paginate_rows, resolve_sort
from api.permissions import ensure, has_permission, may
from api.projects.service import get_visible_project
from api.webhooks.delivery import emit

BUG_SORTS = {"created_at": Bug.created_at, "updated_at": Bug.updated_at, "priority": Bug.priority}


def _uid(user: User) -> int:
    assert user.id is not None
    return user.id


def bug_key(project: Project, bug: Bug) -> str:
    return f"{project.key}-{bug.number}"


# ----- reading -----------------------------------------------------------------------------


async def get_visible_bug(session: AsyncSession, user: User, ref: str) -> tuple[Bug, Project]:
    """The bug by id or key; 404 when missing or in a project the user is not a member of."""
    found = await repository.bug_by_ref(session, ref)
    if found is None:
        raise BugNotFound()
    bug, project = found
    if not await sees_project(session, user, bug.project_id):
        raise BugNotFound()
    return bug, project


async def read_visible_bug(session: AsyncSession, user: User, ref: str) -> BugRead:
    """The bug by id or key as the API shows it; 404 as `get_visible_bug` answers it, from one
    statement that checks the visibility while it reads."""
    row = await repository.visible_read_row(
        session, ref, _uid(user), members_only=not has_permission(user.role, "projects:see_all")
    )
    if row is None:
        raise BugNotFound()
    return BugRead.model_validate(_fields(row, user))


async def sees_project(session: AsyncSession, user: User, project_id: int) -> bool:
    """Members see a project's bugs; admins see every project's."""
    return has_permission(user.role, "projects:see_all") or await repository.is_member(
        session, project_id, _uid(user)
    )


async def list_bugs(
    session: AsyncSession,
    user: User,
    params: PageParams,
    filters: BugFilters,
    project_ref: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of bugs as the API shows them (`BugRead`'s fields, not yet validated).

    Of one project: the page's query checks that the user sees it, so the project is looked
    up apart only when the page is empty (404 when it is not there or not visible)."""
    by_id = project_ref is not None and project_ref.isdecimal()
    sees_all = has_permission(user.role, "projects:see_all")
    stmt, values = repository.list_query(
        session,
        visible_to=None if sees_all else _uid(user),
        project_id=int(project_ref) if project_ref is not None and by_id else None,
        project_key=project_ref.upper() if project_ref is not None and not by_id else None,
        filters=filters,
    )
    key = resolve_sort(params.sort, BUG_SORTS, tiebreak=Bug.id, default="-updated_at")
    values[repository.VIEWER] = _uid(user)
    if filters.q:
        await repository.plan_for_the_words(session)
    rows, next_cursor = await paginate_rows(session, stmt, key, params, values, reused=True)
    if not rows and project_ref is not None:
        await get_visible_project(session, user, project_ref)
    return [_fields(row, user) for row in rows], next_cursor


def _fields(r: Mapping[Any, Any], user: User) -> dict[str, Any]:
    """One row of `repository.read_query` as the API shows it to ``user``: `BugRead`'s fields."""
    # by key through a mapping (a Row's `_mapping`): Row attribute access costs ~2 us a column
    # (50 rows x 24 columns per page), the mapping a tenth of that
    own = user.id in (r["reporter_id"], r["assignee_id"])
    assignee_id, assignee_name = r["assignee_id"], r["assignee_name"]
    return {
        "id": r["id"],
        "key": f"{r['project_key']}-{r['number']}",
        "project_id": r["project_id"],
        "project_key": r["project_key"],
        "number": r["number"],
        "title": r["title"],
        "description": r["description"],
        "status": r["status"],
        "resolution": r["resolution"],
        "duplicate_of": r["duplicate_key"],
        "priority": priority_name(r["priority"]),
        "severity": r["severity"],
        "labels": sorted(r["labels"].split(",")) if r["labels"] else [],
        "reporter": {"id": r["reporter_id"], "full_name": r["reporter_name"]},
        "assignee": (
            {"id": assignee_id, "full_name": assignee_name}
            if assignee_id is not None and assignee_name is not None
            else None
        ),
        "watching": bool(r["watching"]),
        "repro_script": r["repro_script"],
        "reproduces": r["reproduces"],
        "verdict": r["verdict"],
        "repro_job_id": r["repro_job_id"],
        "repro_checked_at": r["repro_checked_at"],
        "version": r["version"],
        "created_at": r["created_at"],
        "updated_at": r["updated_at"],
        "can": bug_can(user.role, BugStatus(r["status"]), own=own),
    }


@functools.cache
def bug_can(role: Role, status: BugStatus, *, own: bool) -> dict[str, Any]:
    """`BugCan` for a bug in ``status``, ``own`` when the caller reported it or is its assignee:
    the same rules `update_bug`, `delete_bug`, `transition` and `add_comment` enforce. Shared
    between the rows of a page (a few role x status x ownership combinations): never mutate."""
    return {
        "edit": may(role, "bugs:edit", own=own),
        "assign": may(role, "bugs:assign"),
        "delete": may(role, "bugs:delete"),
        "comment": may(role, "comments:create"),
        "reproduce": may(role, "jobs:run"),
        "transition": [
            t.target.value for t in workflow.from_status(status) if may(role, t.permission)
        ],
    }


async def read_one(session: AsyncSession, user: User, bug: Bug) -> BugRead:
    """The bug as the API shows it, as of now (one query)."""
    await session.flush()
    assert bug.id is not None
    row = await repository.read_row(session, bug.id, _uid(user))
    return BugRead.model_validate(_fields(row._mapping, user))


# ----- writing -----------------------------------------------------------------------------


async def create_bug(session: AsyncSession, user: User, project_ref: str, data: BugCreate) -> Bug:
    project = await get_visible_project(session, user, project_ref)
    assert project.id is not None
    if data.assignee_id is not None:
        ensure(user.role, "bugs:assign")
        await _check_assignee(session, project.id, data.assignee_id)
    bug = Bug(
        project_id=project.id,
        number=await repository.next_bug_number(session, project.id),
        title=data.title,
        description=data.description,
        priority=Priority[data.priority],
        severity=data.severity,
        reporter_id=_uid(user),
        assignee_id=data.assignee_id,
        repro_script=data.repro_script,
    )
    session.add(bug)
    await session.flush()
    assert bug.id is not None
    await repository.set_labels(session, bug.id, set(data.labels), set())
    activity.record(session, bug.id, "created", None, bug_key(project, bug))
    await repository.watch(session, bug.id, _uid(user))
    if bug.assignee_id is not None:
        await repository.watch(session, bug.id, bug.assignee_id)
        await _notify_assigned(session, user, project, bug)
    await session.flush()
    await _emit(session, project, bug, "bug.created", actor_id=user.id)
    return bug


async def _notify_assigned(session: AsyncSession, actor: User, project: Project, bug: Bug) -> None:
    assert bug.assignee_id is not None
    key = bug_key(project, bug)
    await notify(
        session,
        [bug.assignee_id],
        kind="bug.assigned",
        exclude=actor.id,
        title=f"{actor.full_name} assigned {key} to you: {bug.title}",
        link=f"/bugs/{key}",
    )


async def _emit(
    session: AsyncSession, project: Project, bug: Bug, event: str, **extra: object
) -> None:
    assert project.id is not None
    data = {
        "bug": {
            "id": bug.id,
            "key": bug_key(project, bug),
            "title": bug.title,
            "status": bug.status,
            "resolution": bug.resolution,
            "priority": priority_name(bug.priority),
            "severity": bug.severity,
            "assignee_id": bug.assignee_id,
        },
        "project": {"id": project.id, "key": project.key},
        **extra,
    }
    await emit(session, project.id, event, data)


MENTION = re.compile(r"(?<![\w@])@([\w.+-]+@[\w-]+(?:\.[\w-]+)+)")


async def _notify_mentioned(
    session: AsyncSession, actor: User, project: Project, bug: Bug, text: str
) -> None:
    """`@someone@example.com` in a comment notifies that person, if they can see the bug."""
    emails = {m.lower() for m in MENTION.findall(text)}
    if not emails:
        return
    assert project.id is not None
    people = await repository.mentionable(session, project.id, emails)
    key = bug_key(project, bug)
    await notify(
        session,
        people,
        kind="bug.mentioned",
        exclude=actor.id,
        title=f"{actor.full_name} mentioned you on {key}: {bug.title}",
        link=f"/bugs/{key}",
    )


async def notify_reproduction(session: AsyncSession, bug: Bug, verdict: str) -> None:
    """Tell the bug's watchers what the latest reproduction run found."""
    assert bug.id is not None
    project = await session.get(Project, bug.project_id)
    assert project is not None
    key = bug_key(project, bug)
    await notify(
        session,
        await repository.watcher_ids(session, bug),
        kind="job.finished",
        title=f"Reproduction of {key} finished: {verdict}",
        link=f"/bugs/{key}",
    )


async def fix_not_verified(session: AsyncSession, bug: Bug, job_id: str) -> None:
    """The run verifying a fix still reproduces the bug: it goes back to work, and its
    assignee and watchers hear why."""
    assert bug.id is not None
    project = await session.get(Project, bug.project_id)
    assert project is not None
    bug.status = BugStatus.in_progress
    bug.resolution = None
    bug.duplicate_of_id = None
    activity.record(
        session,
        bug.id,
        "reproduction",
        None,
        f"Fix not verified: the reproduction still fails (job {job_id})",
    )
    key = bug_key(project, bug)
    people = set(await repository.watcher_ids(session, bug))
    if bug.assignee_id is not None:
        people.add(bug.assignee_id)
    await notify(
        session,
        sorted(people),
        kind="bug.fix_not_verified",
        title=f"Fix of {key} not verified: the reproduction still fails",
        link=f"/bugs/{key}",
    )
    await session.flush()
    await _emit(session, project, bug, "bug.transitioned", actor_id=None, to=bug.status)


async def list_reproductions(
    session: AsyncSession, user: User, ref: str, params: PageParams
) -> tuple[list[Reproduction], str | None]:
    """The bug's verdict history, newest first by default."""
    bug, _ = await get_visible_bug(session, user, ref)
    assert bug.id is not None
    key = creation_order(params.sort, Reproduction.id, default="-created_at")
    return await paginate(session, repository.reproductions_query(bug.id), key, params)


async def _notify_watchers(
    session: AsyncSession, actor: User, project: Project, bug: Bug, kind: str, what: str
) -> None:
    assert bug.id is not None
    key = bug_key(project, bug)
    await notify(
        session,
        await repository.watcher_ids(session, bug),
        kind=kind,
        exclude=actor.id,
        title=f"{actor.full_name} {what} {key}: {bug.title}",
        link=f"/bugs/{key}",
    )


def _can_edit(user: User, bug: Bug) -> bool:
    return may(user.role, "bugs:edit", own=user.id in (bug.reporter_id, bug.assignee_id))


async def _check_assignee(session: AsyncSession, project_id: int, assignee_id: int) -> None:
    assignee = await session.get(User, assignee_id)
    if (
        assignee is None
        or not has_permission(assignee.role, "bugs:be_assigned")
        or not assignee.is_active
        or not await repository.is_member(session, project_id, assignee_id)
    ):
        raise InvalidAssignee()


async def update_bug(
    session: AsyncSession, user: User, ref: str, data: BugUpdate, if_match: str | None
) -> Bug:
    bug, project = await get_visible_bug(session, user, ref)
    await lock_for_write(session, bug, if_match)
    changes = data.model_dump(exclude_unset=True)
    reassigning = "assignee_id" in changes and changes["assignee_id"] != bug.assignee_id
    # Editing a bug (reporter, assignee, bugs:edit_any) and assigning it (bugs:assign) are two
    # rights: an edit that changes the assignee needs both, one that changes only it needs
    # the second alone. An unchanged assignee sent back with an edit is no assignment.
    if reassigning:
        ensure(user.role, "bugs:assign")
    only_assignment = set(changes) <= {"assignee_id"}
    may_assign = has_permission(user.role, "bugs:assign")
    if not _can_edit(user, bug) and not (only_assignment and may_assign):
        raise NotBugEditor()
    if reassigning and data.assignee_id is not None:
        await _check_assignee(session, bug.project_id, data.assignee_id)
    for field in ("title", "description", "severity", "assignee_id", "repro_script"):
        if field in changes and (
            changes[field] is not None or field in ("assignee_id", "repro_script")
        ):
            setattr(bug, field, changes[field])
    if data.priority is not None:
        bug.priority = Priority[data.priority]
    assert bug.id is not None
    labels_changed = await _change_labels(session, bug, data)
    if not (labels_changed or session.is_modified(bug)):
        return bug  # nothing changed: same version, so nobody else's If-Match goes stale
    if reassigning and bug.assignee_id is not None:
        await repository.watch(session, bug.id, bug.assignee_id)
        await _notify_assigned(session, user, project, bug)
    bug.updated_at = utcnow()  # label-only edits change the bug too
    await session.flush()
    await _emit(session, project, bug, "bug.updated", actor_id=user.id, fields=sorted(changes))
    return bug


async def _change_labels(session: AsyncSession, bug: Bug, data: BugUpdate) -> bool:
    """Apply the edit's labels; True when the set changed."""
    assert bug.id is not None
    current = set((await repository.labels_by_bug(session, [bug.id])).get(bug.id, []))
    wanted = set(data.labels) if data.labels is not None else set(current)
    wanted = (wanted | set(data.add_labels)) - set(data.remove_labels)
    if wanted == current:
        return False
    if len(wanted) > MAX_LABELS:
        raise TooManyLabels(
            f"A bug has at most {MAX_LABELS} labels; this edit would give it {len(wanted)}"
        )
    await repository.set_labels(session, bug.id, wanted - current, current - wanted)
    activity.record(
        session,
        bug.id,
        "labels",
        ", ".join(sorted(current)) or None,
        ", ".join(sorted(wanted)) or None,
    )
    return True


async def delete_bug(session: AsyncSession, user: User, ref: str, if_match: str | None) -> None:
    bug, _ = await get_visible_bug(session, user, ref)
    await lock_for_write(session, bug, if_match)
    assert bug.id is not None
    forget_blobs(session, await blob_keys_for_bugs(session, [bug.id]))
    await session.delete(bug)
    await session.flush()


# ----- workflow ----------------------------------------------------------------------------


def _options(user: User, bug: Bug) -> list[TransitionOption]:
    return [
        TransitionOption(
            to=t.target,
            requires=(["resolution"] if t.requires_resolution else []),
            resolutions=sorted(t.resolutions, key=list(Resolution).index),
        )
        for t in workflow.from_status(bug.status)
        if has_permission(user.role, t.permission)
    ]


async def available_transitions(
    session: AsyncSession, user: User, ref: str
) -> list[TransitionOption]:
    bug, _ = await get_visible_bug(session, user, ref)
    return _options(user, bug)


async def transition(
    session: AsyncSession, user: User, ref: str, req: TransitionRequest, if_match: str | None
) -> Bug:
    bug, project = await get_visible_bug(session, user, ref)
    await lock_for_write(session, bug, if_match)
    rule = workflow.find(bug.status, req.to)
    allowed = ", ".join(o.to for o in _options(user, bug)) or "none"
    if rule is None:
        raise InvalidTransition(
            f"A bug cannot go from {bug.status} to {req.to}; you may move it to: {allowed}",
            extra={"allowed": [o.to for o in _options(user, bug)]},
        )
    if not has_permission(user.role, rule.permission):
        raise InvalidTransition(
            f"A {user.role} cannot {rule.why} ({bug.status} -> {req.to}); "
            f"you may move it to: {allowed}",
            extra={"allowed": [o.to for o in _options(user, bug)]},
        )
    duplicate_of_id = await _check_resolution(session, user, bug, rule, req)
    _check_verdict(session, user, bug, req)
    bug.status = req.to
    if rule.clears_resolution:
        bug.resolution = None
        bug.duplicate_of_id = None
    elif rule.requires_resolution:
        bug.resolution = req.resolution
        bug.duplicate_of_id = duplicate_of_id
    if (
        req.to == BugStatus.in_progress
        and bug.assignee_id is None
        and has_permission(user.role, "bugs:be_assigned")
    ):
        bug.assignee_id = user.id  # starting work on an unassigned bug takes it
        await repository.watch(session, bug.id or 0, _uid(user))
    if req.comment:
        await _add_comment(session, user, bug, req.comment)
    await _notify_watchers(
        session, user, project, bug, "bug.transitioned", f"moved to {req.to.replace('_', ' ')}"
    )
    await session.flush()
    await _emit(session, project, bug, "bug.transitioned", actor_id=user.id, to=req.to)
    return bug


def _check_verdict(session: AsyncSession, user: User, bug: Bug, req: TransitionRequest) -> None:
    """A fix the reproduction contradicts is not closed, unless an admin says why (recorded)."""
    closing_a_fix = (
        bug.status == BugStatus.resolved
        and bug.resolution == Resolution.fixed
        and req.to == BugStatus.closed
    )
    if not closing_a_fix or bug.verdict != Verdict.reproduces:
        return
    if not (has_permission(user.role, "bugs:override_verdict") and req.comment):
        raise StillReproduces(
            f"The reproduction still fails (job {bug.repro_job_id}): fix it, or run the script "
            "again once fixed"
            + (
                "; an admin may close it anyway with a comment saying why"
                if not has_permission(user.role, "bugs:override_verdict")
                else "; to close it anyway, add a comment saying why"
            )
        )
    assert bug.id is not None
    activity.record(
        session,
        bug.id,
        "verdict_override",
        None,
        f"Closed although the reproduction still fails (job {bug.repro_job_id})",
    )


async def _check_resolution(
    session: AsyncSession, user: User, bug: Bug, rule: workflow.Transition, req: TransitionRequest
) -> int | None:
    if not rule.requires_resolution:
        if req.resolution is not None or req.duplicate_of is not None:
            raise InvalidTransition(f"Moving a bug to {req.to} takes no resolution")
        return None
    if req.resolution is None:
        raise InvalidTransition(f"Moving a bug to {req.to} requires a resolution")
    if req.resolution not in rule.resolutions:
        choices = ", ".join(sorted(rule.resolutions))
        raise InvalidTransition(f"From {bug.status}, the resolution must be one of: {choices}")
    if req.resolution != Resolution.duplicate:
        if req.duplicate_of is not None:
            raise InvalidTransition("duplicate_of is only for the resolution 'duplicate'")
        return None
    if req.duplicate_of is None:
        raise InvalidTransition("The resolution 'duplicate' requires duplicate_of")
    try:
        original, _ = await get_visible_bug(session, user, str(req.duplicate_of))
    except BugNotFound as exc:
        raise InvalidTransition(f"duplicate_of: no visible bug {req.duplicate_of}") from exc
    if original.id == bug.id:
        raise InvalidTransition("A bug cannot duplicate itself")
    return original.id


# ----- comments, activity, watchers -------------------------------------------------------


async def _add_comment(session: AsyncSession, user: User, bug: Bug, body: str) -> Comment:
    assert bug.id is not None
    comment = Comment(bug_id=bug.id, author_id=_uid(user), body=body)
    session.add(comment)
    await session.flush()
    activity.record(session, bug.id, "comment", None, str(comment.id))
    # A comment is not an edit of the bug: touch updated_at (lists sort by it) without the
    # version check and bump, so it neither conflicts with a concurrent change of the bug
    # (a reproduction finishing) nor turns someone's open edit form stale.
    await session.execute(update(Bug).where(col(Bug.id) == bug.id).values(updated_at=utcnow()))
    return comment


async def add_comment(
    session: AsyncSession, user: User, ref: str, data: CommentCreate
) -> CommentRead:
    bug, project = await get_visible_bug(session, user, ref)
    if not has_permission(user.role, "comments:create"):
        raise Forbidden()
    comment = await _add_comment(session, user, bug, data.body)
    await _notify_watchers(session, user, project, bug, "comment.created", "commented on")
    await _notify_mentioned(session, user, project, bug, data.body)
    await _emit(session, project, bug, "comment.created", actor_id=user.id, comment_id=comment.id)
    await session.flush()
    return (await comments_read(session, [comment]))[0]


async def list_comments(
    session: AsyncSession, user: User, ref: str, params: PageParams
) -> tuple[list[CommentRead], str | None]:
    bug, _ = await get_visible_bug(session, user, ref)
    assert bug.id is not None
    key = creation_order(params.sort, Comment.id)
    rows, cursor = await paginate(session, repository.comments_query(bug.id), key, params)
    return await comments_read(session, rows), cursor


async def comments_read(session: AsyncSession, comments: list[Comment]) -> list[CommentRead]:
    authors = await repository.users_by_id(session, {c.author_id for c in comments})
    return [
        CommentRead(
            id=c.id or 0,
            bug_id=c.bug_id,
            author=UserRef(id=c.author_id, full_name=authors[c.author_id].full_name),
            body=c.body,
            edited_at=c.edited_at,
            version=c.version,
            created_at=c.created_at,
        )
        for c in comments
    ]


async def _editable_comment(session: AsyncSession, user: User, comment_id: int) -> Comment:
    comment = await session.get(Comment, comment_id)
    if comment is None:
        raise CommentNotFound()
    try:
        await get_visible_bug(session, user, str(comment.bug_id))
    except BugNotFound as exc:
        raise CommentNotFound() from exc
    if not may(user.role, "comments:edit", own=comment.author_id == user.id):
        raise NotCommentAuthor()
    return comment


async def update_comment(
    session: AsyncSession, user: User, comment_id: int, data: CommentUpdate, if_match: str | None
) -> CommentRead:
    comment = await _editable_comment(session, user, comment_id)
    await lock_for_write(session, comment, if_match)
    if data.body != comment.body:
        activity.record(session, comment.bug_id, f"comment:{comment.id}", comment.body, data.body)
        comment.body = data.body
        comment.edited_at = utcnow()
        await session.flush()
    return (await comments_read(session, [comment]))[0]


async def delete_comment(
    session: AsyncSession, user: User, comment_id: int, if_match: str | None
) -> None:
    comment = await _editable_comment(session, user, comment_id)
    await lock_for_write(session, comment, if_match)
    activity.record(session, comment.bug_id, f"comment:{comment.id}", comment.body, None)
    await session.delete(comment)
    await session.flush()


async def list_activity(
    session: AsyncSession, user: User, ref: str, params: PageParams
) -> tuple[list[ActivityRead], str | None]:
    bug, _ = await get_visible_bug(session, user, ref)
    assert bug.id is not None
    stmt = repository.activity_query(bug.id)
    key = resolve_sort(params.sort, {"at": BugActivity.id}, tiebreak=BugActivity.id, default="at")
    rows, cursor = await paginate(session, stmt, key, params)
    actors = await repository.users_by_id(session, {r.actor_id for r in rows if r.actor_id})
    return [
        ActivityRead(
            id=r.id or 0,
            at=r.at,
            actor=UserRef(id=r.actor_id, full_name=actors[r.actor_id].full_name)
            if r.actor_id in actors and r.actor_id is not None
            else None,
            field=r.field,
            old=r.old,
            new=r.new,
        )
        for r in rows
    ], cursor


async def set_watching(session: AsyncSession, user: User, ref: str, watching: bool) -> Bug:
    bug, _ = await get_visible_bug(session, user, ref)
    assert bug.id is not None
    if watching:
        await repository.watch(session, bug.id, _uid(user))
    else:
        await repository.unwatch(session, bug.id, _uid(user))
    await session.flush()
    return bug
