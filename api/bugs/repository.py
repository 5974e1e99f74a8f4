"""Every query of the bug tracker: lookups, filtered lists, full-text search, batched reads."""

from __future__ import annotations

import functools
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.types import String
from sqlmodel import col

from api.concurrency import flush_new
from api.models import (
    Bug,
    BugActivity,
    BugLabel,
    BugStatus,
    BugWatcher,
    Comment,
    Project,
    ProjectMember,
    Reproduction,
    User,
)
from api.permissions import roles_with
from api.prepared import PreparedSelect

BUG_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9]{1,9})-(\d{1,9})$")


@dataclass(frozen=True)
class BugFilters:
    status: list[BugStatus] | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    reporter_id: int | None = None
    priority: list[int] | None = None
    severity: list[str] | None = None
    label: list[str] | None = None
    q: str | None = None
    created_after: datetime | None = None
    updated_after: datetime | None = None


async def bug_by_ref(session: AsyncSession, ref: str) -> tuple[Bug, Project] | None:
    """A bug by numeric id or by key (WEB-42), with its project."""
    stmt = select(Bug, Project).join(Project, col(Project.id) == Bug.project_id)
    if ref.isdecimal():
        stmt = stmt.where(col(Bug.id) == int(ref))
    elif match := BUG_KEY.match(ref):
        stmt = stmt.where(
            col(Project.key) == match.group(1).upper(), col(Bug.number) == int(match.group(2))
        )
    else:
        return None
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def next_bug_number(session: AsyncSession, project_id: int) -> int:
    """Atomically take the project's next bug number (the row lock serialises creators)."""
    result = await session.execute(
        update(Project)
        .where(col(Project.id) == project_id)
        .values(bug_counter=col(Project.bug_counter) + 1, updated_at=col(Project.updated_at))
        .returning(col(Project.bug_counter))
    )
    return int(result.scalar_one())


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def read_query(dialect: str) -> Select[Any]:
    """Bugs as a `BugRead` shows them, one row each, for the viewer bound as `VIEWER`.

    Plain column rows, not `Bug` entities: building 50 identity-mapped ORM objects for a
    read-only page cost more CPU than the rest of the request. Built once per dialect (the
    joins and subqueries cost more to construct than to run); callers add their WHERE.
    """
    return _READ_QUERIES[dialect]


async def read_row(session: AsyncSession, bug_id: int, viewer_id: int) -> Row[Any]:
    """One bug as `read_query` shows it to ``viewer_id``."""
    stmt = read_query(_dialect(session)).where(col(Bug.id) == bug_id)
    row: Row[Any] = (await session.execute(stmt, {VIEWER: viewer_id})).one()
    return row


async def visible_read_row(
    session: AsyncSession, ref: str, viewer_id: int, *, members_only: bool
) -> dict[str, Any] | None:
    """The bug by id or key (WEB-42) as `read_query` shows it to ``viewer_id``; None when
    there is none or, ``members_only``, the viewer is not a member of its project. One
    prepared statement: the lookup, the visibility check and the read used to be three."""
    if ref.isdecimal():
        values: dict[str, Any] = {"ref_id": int(ref)}
    elif match := BUG_KEY.match(ref):
        values = {"ref_key": match.group(1).upper(), "ref_number": int(match.group(2))}
    else:
        return None
    values[VIEWER] = viewer_id
    stmt = _visible_read(_dialect(session), "ref_id" not in values, members_only)
    return await stmt.first(session, values)


@functools.cache
def _visible_read(dialect: str, by_key: bool, members_only: bool) -> PreparedSelect:
    stmt = read_query(dialect)
    if by_key:
        stmt = stmt.where(
            col(Project.key) == bindparam("ref_key"), col(Bug.number) == bindparam("ref_number")
        )
    else:
        stmt = stmt.where(col(Bug.id) == bindparam("ref_id"))
    if members_only:
        stmt = stmt.where(
            exists().where(
                col(ProjectMember.project_id) == Bug.project_id,
                col(ProjectMember.user_id) == bindparam(VIEWER),
            )
        )
    return PreparedSelect(stmt)


def list_query(
    session: AsyncSession,
    *,
    visible_to: int | None,
    project_id: int | None,
    filters: BugFilters,
    project_key: str | None = None,
) -> tuple[Select[Any], dict[str, Any]]:
    """`read_query` narrowed to the bugs ``visible_to`` that user (None: every bug) sees that
    match ``filters``, of one project when ``project_id`` or ``project_key`` is given, and the
    values to bind.

    The statement depends only on which filters are set, so each such shape is built once:
    building it per request, and SQLAlchemy deriving its cache key, cost ~15% of a list page.
    The values are bound (names ``f_*``) when it runs."""
    dialect = _dialect(session)
    f = filters
    values: dict[str, Any] = {
        "f_project_id": project_id,
        "f_project_key": project_key,
        "f_visible_to": visible_to,
        "f_status": f.status or None,
        "f_assignee_id": None if f.unassigned else f.assignee_id,
        "f_reporter_id": f.reporter_id,
        "f_priority": f.priority or None,
        "f_severity": f.severity or None,
        "f_label": f.label or None,
        "f_created_after": f.created_after,
        "f_updated_after": f.updated_after,
        **(_text_query(dialect, f.q) if f.q else {}),
        **(_key_query(f.q) if f.q else {}),
    }
    bound = {name: value for name, value in values.items() if value is not None}
    return _list_query(dialect, frozenset(bound), f.unassigned), bound


@functools.lru_cache(maxsize=512)
def _list_query(dialect: str, filters: frozenset[str], unassigned: bool) -> Select[Any]:
    def value(name: str) -> Any:
        return bindparam(name, expanding=name in _LIST_FILTERS)  # typed by its column

    stmt = read_query(dialect)
    if "f_project_id" in filters:
        stmt = stmt.where(col(Bug.project_id) == value("f_project_id"))
    if "f_project_key" in filters:
        by_key = select(col(Project.id)).where(col(Project.key) == value("f_project_key"))
        stmt = stmt.where(col(Bug.project_id) == by_key.scalar_subquery())
    if "f_visible_to" in filters:
        member_of = select(col(ProjectMember.project_id)).where(
            col(ProjectMember.user_id) == value("f_visible_to")
        )
        stmt = stmt.where(col(Bug.project_id).in_(member_of))
    if "f_status" in filters:
        stmt = stmt.where(col(Bug.status).in_(value("f_status")))
    if unassigned:
        stmt = stmt.where(col(Bug.assignee_id).is_(None))
    elif "f_assignee_id" in filters:
        stmt = stmt.where(col(Bug.assignee_id) == value("f_assignee_id"))
    if "f_reporter_id" in filters:
        stmt = stmt.where(col(Bug.reporter_id) == value("f_reporter_id"))
    if "f_priority" in filters:
        stmt = stmt.where(col(Bug.priority).in_(value("f_priority")))
    if "f_severity" in filters:
        stmt = stmt.where(col(Bug.severity).in_(value("f_severity")))
    if "f_label" in filters:
        labelled = select(col(BugLabel.bug_id)).where(col(BugLabel.label).in_(value("f_label")))
        stmt = stmt.where(col(Bug.id).in_(labelled))
    if "f_created_after" in filters:
        stmt = stmt.where(col(Bug.created_at) > value("f_created_after"))
    if "f_updated_after" in filters:
        stmt = stmt.where(col(Bug.updated_at) > value("f_updated_after"))
    if "f_nothing" in filters:
        stmt = stmt.where(false())  # the key only picks this shape; its value is not used
    words: list[ColumnElement[bool]] = []
    for name in sorted(filters):  # f_q, or on SQLite one f_q<i> / f_not<i> per search term
        if name.startswith(("f_q", "f_not")):
            match = _text_match(dialect, bindparam(name, type_=String))
            words.append(~match if name.startswith("f_not") else match)
    if "f_key_number" in filters:  # the search is a bug's key: that bug, or text naming it
        of_project = select(col(Project.id)).where(col(Project.key) == value("f_key_project"))
        key = and_(
            col(Bug.project_id) == of_project.scalar_subquery(),
            col(Bug.number) == value("f_key_number"),
        )
        return stmt.where(or_(and_(*words), key))
    return stmt.where(*words)


def _key_query(q: str) -> dict[str, Any]:
    """What `_list_query` binds when the search ``q`` is a bug key (project keys are upper case)."""
    key = BUG_KEY.match(q.strip())
    return {"f_key_project": key[1].upper(), "f_key_number": int(key[2])} if key else {}


_LIST_FILTERS = {"f_status", "f_priority", "f_severity", "f_label"}
"""The filters whose value is a list (``IN``)."""


_SEARCH_TERM = re.compile(r'(-?)(?:"([^"]*)"?|(\S+))')
"""A term of a web-style search: a word or a "quoted phrase", either excluded by a leading '-'."""


def _text_query(dialect: str, q: str) -> dict[str, str]:
    """What `_text_match` binds for the search ``q``.

    PostgreSQL reads ``q`` itself (`websearch_to_tsquery`). SQLite gets the same syntax, simpler:
    every word or "quoted phrase" must occur (``f_q<i>``, a LIKE pattern) and every -word must not
    (``f_not<i>``); ``or`` is not an operator here, and words match as substrings, not stems.
    """
    if dialect == "postgresql":
        return {"f_q": q}
    binds: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    for minus, phrase, word in _SEARCH_TERM.findall(q):
        term = phrase.strip() or word
        key = (minus, term.lower())
        if key[1] == "or" or not _WORD_CHARACTER.search(term) or key in seen:
            continue  # like PostgreSQL, which reads only words: '-' or '...' looks for nothing
        seen.add(key)
        # numbered by the terms kept, so "a a b" and "a b" share one cached statement shape
        binds[f"f_not{len(binds)}" if minus else f"f_q{len(binds)}"] = _like_pattern(term)
        if len(binds) == MAX_SEARCH_TERMS:
            break
    # Nothing left to look for ("or", '""', "-"): no bug matches, as on PostgreSQL.
    return binds or {"f_nothing": ""}


_WORD_CHARACTER = re.compile(r"[^\W_]")  # a letter or digit: PostgreSQL skips "_" alone too


MAX_SEARCH_TERMS = 16
"""Terms beyond these are ignored on SQLite (each is three LIKEs and a cached statement shape)."""


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")


async def plan_for_the_words(session: AsyncSession) -> None:
    """On PostgreSQL, plan this transaction's statements for their own parameters.

    A prepared statement (asyncpg prepares every one) gets five plans made for its parameters;
    then PostgreSQL may settle on one generic plan. For full-text search that plan knows nothing
    of the words and, for a rare word, walks the whole ``updated_at`` index filtering every bug
    (at 10k bugs: 3-4 ms -> 23-38 ms a search, from the sixth search on a connection). Planning
    each search anew costs ~1 ms; at 1M bugs PostgreSQL already chose to.
    """
    if _dialect(session) == "postgresql":
        await session.execute(CUSTOM_PLANS)


def _text_match(dialect: str, q: Any) -> ColumnElement[bool]:
    """PostgreSQL: the generated tsvector columns (GIN). SQLite: a case-insensitive LIKE."""
    if dialect == "postgresql":
        # One vector per bug over title, description and comments, kept by triggers (see the
        # "search vectors include comments" migration), behind one GIN index.
        query = func.websearch_to_tsquery("english", q)
        return literal_column("bug.search_vector").bool_op("@@")(query)
    in_comments = exists().where(
        col(Comment.bug_id) == Bug.id, col(Comment.body).ilike(q, escape="\\")
    )
    return or_(
        col(Bug.title).ilike(q, escape="\\"),
        col(Bug.description).ilike(q, escape="\\"),
        in_comments,
    )


async def users_by_id(session: AsyncSession, ids: Iterable[int]) -> dict[int, User]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.scalars(select(User).where(col(User.id).in_(wanted)))
    return {u.id: u for u in rows if u.id is not None}


async def labels_by_bug(session: AsyncSession, bug_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    if bug_ids:
        rows = await session.execute(
            select(col(BugLabel.bug_id), col(BugLabel.label))
            .where(col(BugLabel.bug_id).in_(bug_ids))
            .order_by(col(BugLabel.label))
        )
        for bug_id, label in rows:
            out[bug_id].append(label)
    return out


async def set_labels(session: AsyncSession, bug_id: int, add: set[str], remove: set[str]) -> None:
    if remove:
        await session.execute(
            delete(BugLabel).where(col(BugLabel.bug_id) == bug_id, col(BugLabel.label).in_(remove))
        )
    session.add_all(BugLabel(bug_id=bug_id, label=label) for label in sorted(add))


async def watch(session: AsyncSession, bug_id: int, user_id: int) -> None:
    if await session.get(BugWatcher, (bug_id, user_id)) is None:
        # flushed, so that a second watch() in this request sees it; False: a concurrent
        # request made them a watcher first, which is all we wanted
        await flush_new(session, BugWatcher(bug_id=bug_id, user_id=user_id))


async def unwatch(session: AsyncSession, bug_id: int, user_id: int) -> None:
    await session.execute(
        delete(BugWatcher).where(
            col(BugWatcher.bug_id) == bug_id, col(BugWatcher.user_id) == user_id
        )
    )


async def watcher_ids(session: AsyncSession, bug: Bug) -> list[int]:
    """Who watches ``bug`` and may still see it: a member of its project, or an admin."""
    member = exists().where(
        col(ProjectMember.project_id) == bug.project_id,
        col(ProjectMember.user_id) == BugWatcher.user_id,
    )
    rows = await session.scalars(
        select(col(BugWatcher.user_id))
        .join(User, col(User.id) == BugWatcher.user_id)
        .where(
            col(BugWatcher.bug_id) == bug.id,
            or_(col(User.role).in_(sorted(roles_with("projects:see_all"))), member),
        )
    )
    return list(rows)


async def release_person(session: AsyncSession, user_id: int, project_id: int | None) -> None:
    """Take ``user_id`` off the bugs they may no longer work on: unassigned from those of
    ``project_id`` (None: every project) and, for one project, no longer watching its bugs.

    For a member removed from a project, and for someone who is no longer an active developer
    (only those are assignees). Bugs are changed through the ORM, so each unassignment is a
    history row like any other edit (`api.bugs.activity`).
    """
    # Locked in id order, so two of these never wait on each other. (SQLite has no row locks;
    # both callers have written already, so they hold its write lock.)
    assigned = (
        select(Bug)
        .where(col(Bug.assignee_id) == user_id)
        .order_by(col(Bug.id))
        .with_for_update(key_share=True)
    )
    if project_id is not None:
        assigned = assigned.where(col(Bug.project_id) == project_id)
        in_project = select(col(Bug.id)).where(col(Bug.project_id) == project_id)
        await session.execute(
            delete(BugWatcher).where(
                col(BugWatcher.user_id) == user_id, col(BugWatcher.bug_id).in_(in_project)
            )
        )
    for bug in await session.scalars(assigned):
        bug.assignee_id = None
    await session.flush()


def activity_query(bug_id: int) -> Select[Any]:
    return select(BugActivity).where(col(BugActivity.bug_id) == bug_id)


def reproductions_query(bug_id: int) -> Select[Any]:
    return select(Reproduction).where(col(Reproduction.bug_id) == bug_id)


async def reproduction_of_job(session: AsyncSession, job_id: uuid.UUID) -> Reproduction | None:
    stmt = select(Reproduction).where(col(Reproduction.job_id) == job_id)
    found: Reproduction | None = await session.scalar(stmt)
    return found


def comments_query(bug_id: int) -> Select[Any]:
    return select(Comment).where(col(Comment.bug_id) == bug_id)


async def is_member(session: AsyncSession, project_id: int, user_id: int) -> bool:
    return await session.get(ProjectMember, (project_id, user_id)) is not None


async def mentionable(session: AsyncSession, project_id: int, emails: set[str]) -> list[int]:
    """Ids of users with these emails who can see the project (members, or admins)."""
    member = exists().where(
        col(ProjectMember.project_id) == project_id, col(ProjectMember.user_id) == User.id
    )
    rows = await session.scalars(
        select(col(User.id)).where(
            col(User.email).in_(emails),
            or_(member, col(User.role).in_(sorted(roles_with("projects:see_all")))),
        )
    )
    return [uid for uid in rows if uid is not None]


# Built once: constructing aliases and subqueries per request cost more than running them.
_REPORTER = aliased(User)
_ASSIGNEE = aliased(User)
_ORIGINAL = aliased(Bug)
_ORIGINAL_PROJECT = aliased(Project)
_DUPLICATE_KEY = (
    select(col(_ORIGINAL_PROJECT.key).op("||")("-").op("||")(cast(col(_ORIGINAL.number), String)))
    .join(_ORIGINAL_PROJECT, col(_ORIGINAL_PROJECT.id) == col(_ORIGINAL.project_id))
    .where(col(_ORIGINAL.id) == Bug.duplicate_of_id)
    .correlate(Bug)
    .scalar_subquery()
    .label("duplicate_key")
)
_LABEL_LISTS = {
    dialect: select(aggregate)
    .where(col(BugLabel.bug_id) == Bug.id)
    .correlate(Bug)
    .scalar_subquery()
    .label("labels")
    for dialect, aggregate in (
        ("postgresql", func.string_agg(BugLabel.label, literal_column("','"))),
        ("sqlite", func.group_concat(BugLabel.label, ",")),
    )
}


# every column of a bug, built once rather than on each list request
_BUG_COLUMNS = [col(getattr(Bug, c.key)) for c in Bug.__table__.columns]  # type: ignore[attr-defined]

VIEWER = "viewer_id"
"""Execution parameter of `read_query`: the user whose `watching` flag the rows carry."""
_READ_QUERIES = {
    dialect: select(*_BUG_COLUMNS)
    .join(Project, col(Project.id) == Bug.project_id)
    .join(_REPORTER, col(_REPORTER.id) == Bug.reporter_id)
    .outerjoin(_ASSIGNEE, col(_ASSIGNEE.id) == Bug.assignee_id)
    .add_columns(
        col(Project.key).label("project_key"),
        col(_REPORTER.full_name).label("reporter_name"),
        col(_ASSIGNEE.full_name).label("assignee_name"),
        _DUPLICATE_KEY,
        label_list,
        exists()
        .where(col(BugWatcher.bug_id) == Bug.id, col(BugWatcher.user_id) == bindparam(VIEWER))
        .label("watching"),
    )
    for dialect, label_list in _LABEL_LISTS.items()
}
