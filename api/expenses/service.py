"""Expense rules: who sees what, exact amounts, history, soft delete, totals, categories."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from api.attachments.repository import blob_keys_for_expense, forget_blobs
from api.concurrency import etag, flush_change, flush_new, lock_for_write
from api.db import ACTOR_KEY, utcnow
from api.errors import Forbidden
from api.expenses import budgets, repository
from api.expenses.exceptions import (
    CategoryInUse,
    CategoryNameTaken,
    CategoryNotFound,
    ExpenseDeleted,
    ExpenseNotDeleted,
    ExpenseNotFound,
    IdempotencyKeyReused,
    InvalidCategoryParent,
    InvalidExpense,
)
from api.expenses.repository import ExpenseFilters
from api.expenses.schemas import (
    CategoryCreate,
    CategoryRead,
    CategoryUpdate,
    ExpenseActivityRead,
    ExpenseCreate,
    ExpenseRead,
    ExpenseSummary,
    ExpenseUpdate,
    GroupBy,
    SummaryRow,
    UserRef,
)
from api.models import Expense, ExpenseActivity, ExpenseCategory, ExpenseIdempotencyKey, User
from api.money import fits_currency, format_amount, minor_units
from api.pagination import PageParams, paginate, resolve_sort
from api.permissions import has_permission, may

M = TypeVar("M", bound=BaseModel)

EXPENSE_SORTS = {
    "spent_on": Expense.spent_on,
    "amount": Expense.amount,
    "created_at": Expense.created_at,
    "updated_at": Expense.updated_at,
}
GROUPS: tuple[GroupBy, ...] = ("category", "month", "project", "user")


def uid(user: User) -> int:
    assert user.id is not None
    return user.id


def sees_all(user: User) -> bool:
    return has_permission(user.role, "expenses:see_all")


def owner_filter(user: User, user_id: int | None) -> int | None:
    """Whose expenses a list, total or export covers: your own, or (admins) anyone's."""
    if sees_all(user):
        return user_id
    if user_id is not None and user_id != user.id:
        raise Forbidden("Only admins can see other users' expenses")
    return uid(user)


# ----- reading -----------------------------------------------------------------------------


async def get_expense(session: AsyncSession, user: User, expense_id: int) -> Expense:
    """The expense if the caller may see it; 404 whether it is missing or someone else's."""
    expense = await session.get(Expense, expense_id)
    if expense is None or (expense.user_id != user.id and not sees_all(user)):
        raise ExpenseNotFound()
    return expense


async def editable_expense(session: AsyncSession, user: User, expense_id: int) -> Expense:
    expense = await get_expense(session, user, expense_id)
    if not may(user.role, "expenses:edit", own=expense.user_id == user.id):
        raise Forbidden("Only the owner or an admin can change this expense")
    return expense


async def category_paths(session: AsyncSession) -> dict[int, str]:
    categories = await repository.all_categories(session)
    by_id = {c.id: c for c in categories if c.id is not None}
    return {
        cid: f"{by_id[c.parent_id].name}/{c.name}" if c.parent_id in by_id else c.name
        for cid, c in by_id.items()
    }


async def to_read(session: AsyncSession, expenses: Sequence[Expense]) -> list[ExpenseRead]:
    """Expenses as the API shows them, in a fixed number of queries."""
    people = await repository.users_by_id(session, {e.user_id for e in expenses})
    keys = await repository.project_keys(session, {e.project_id for e in expenses if e.project_id})
    paths = await category_paths(session)
    return [
        ExpenseRead(
            id=e.id or 0,
            user=UserRef(id=e.user_id, full_name=people[e.user_id].full_name),
            amount=format_amount(e.amount, e.currency),
            currency=e.currency,
            category_id=e.category_id,
            category=paths.get(e.category_id, ""),
            description=e.description,
            spent_on=e.spent_on,
            project_id=e.project_id,
            project_key=keys.get(e.project_id) if e.project_id else None,
            imported=e.import_fingerprint is not None,
            deleted_at=e.deleted_at,
            version=e.version,
            created_at=e.created_at,
            updated_at=e.updated_at,
        )
        for e in expenses
    ]


async def read_one(session: AsyncSession, expense: Expense) -> ExpenseRead:
    return (await to_read(session, [expense]))[0]


async def list_expenses(
    session: AsyncSession, filters: ExpenseFilters, params: PageParams
) -> tuple[list[ExpenseRead], str | None]:
    key = resolve_sort(params.sort, EXPENSE_SORTS, tiebreak=Expense.id, default="-spent_on")
    rows, cursor = await paginate(session, repository.list_query(filters), key, params)
    return await to_read(session, rows), cursor


async def category_filter(session: AsyncSession, category_id: int | None) -> list[int] | None:
    """A parent category stands for itself and its children."""
    if category_id is None:
        return None
    return [category_id, *await repository.child_ids(session, category_id)]


async def summarize(
    session: AsyncSession, filters: ExpenseFilters, group_by: Sequence[GroupBy]
) -> ExpenseSummary:
    rows = await repository.summary(session, filters, group_by)
    labels = await _summary_labels(session, rows, group_by)
    out = [
        SummaryRow(
            **{k: v for k, v in row.items() if k != "total"},
            **{label: names.get(row[key]) for key, (label, names) in labels.items()},
            total=format_amount(row["total"], row["currency"]),
        )
        for row in rows
    ]
    return ExpenseSummary(group_by=list(group_by), rows=out)


async def _summary_labels(
    session: AsyncSession, rows: Sequence[dict[str, Any]], group_by: Sequence[GroupBy]
) -> dict[str, tuple[str, dict[Any, str]]]:
    """For each id column grouped by, the readable column next to it and the names by id (one
    query per kind), so a report needs no second lookup."""

    def ids(key: str) -> set[int]:
        return {row[key] for row in rows if row[key] is not None}

    labels: dict[str, tuple[str, dict[Any, str]]] = {}
    if "category" in group_by:
        labels["category_id"] = ("category", dict(await category_paths(session)))
    if "project" in group_by:
        keys = await repository.project_keys(session, ids("project_id"))
        labels["project_id"] = ("project_key", dict(keys))
    if "user" in group_by:
        people = await repository.users_by_id(session, ids("user_id"))
        labels["user_id"] = ("user_name", {uid: u.full_name for uid, u in people.items()})
    return labels


# ----- writing -----------------------------------------------------------------------------


async def _check_category(session: AsyncSession, category_id: int) -> None:
    if await session.get(ExpenseCategory, category_id) is None:
        raise InvalidExpense(["body", "category_id"], f"no expense category {category_id}")


async def check_project(session: AsyncSession, user: User, project_id: int) -> None:
    """Linking an expense to a project takes membership (admins: any project)."""
    exists = await repository.project_keys(session, [project_id])
    if not exists or (
        not has_permission(user.role, "projects:see_all")
        and not await repository.is_member(session, project_id, uid(user))
    ):
        raise InvalidExpense(
            ["body", "project_id"], "no such project, or you are not a member of it"
        )


def record(session: AsyncSession, expense_id: int, field: str, old: Any, new: Any) -> None:
    """Append one line to the expense's audit trail, in the request's transaction."""
    actor = session.info.get(ACTOR_KEY)
    session.add(
        ExpenseActivity(
            expense_id=expense_id,
            actor_id=actor,
            field=field,
            old=None if old is None else str(old),
            new=None if new is None else str(new),
        )
    )


async def create_expense(session: AsyncSession, user: User, data: ExpenseCreate) -> Expense:
    await _check_category(session, data.category_id)
    if data.project_id is not None:
        await check_project(session, user, data.project_id)
    expense = Expense(user_id=uid(user), **data.model_dump())
    session.add(expense)
    await session.flush()
    assert expense.id is not None
    record(session, expense.id, "created", None, _summary_text(expense))
    if expense.project_id is not None:
        await budgets.check_alerts(session, {expense.project_id: [expense.spent_on]})
    await session.flush()
    return expense


def _summary_text(e: Expense) -> str:
    return f"{format_amount(e.amount, e.currency)} {e.currency} on {e.spent_on}"


TRACKED = ("amount", "currency", "category_id", "description", "spent_on", "project_id")


async def update_expense(
    session: AsyncSession, user: User, expense_id: int, data: ExpenseUpdate, if_match: str | None
) -> Expense:
    expense = await editable_expense(session, user, expense_id)
    await lock_for_write(session, expense, if_match)
    if expense.deleted_at is not None:
        raise ExpenseDeleted()
    changes = data.model_dump(exclude_unset=True)
    for field in ("amount", "currency", "category_id", "spent_on"):
        if field in changes and changes[field] is None:
            raise InvalidExpense(["body", field], "cannot be null")
    amount: Decimal = changes.get("amount", expense.amount)
    currency: str = changes.get("currency", expense.currency)
    if not fits_currency(amount, currency):
        raise InvalidExpense(
            ["body", "amount" if "amount" in changes else "currency"],
            f"amount {amount.normalize()} has more decimals than {currency} allows "
            f"({minor_units(currency)})",
        )
    if changes.get("category_id") is not None:
        await _check_category(session, changes["category_id"])
    if changes.get("project_id") is not None and changes["project_id"] != expense.project_id:
        await check_project(session, user, changes["project_id"])
    touched = {expense.project_id: [expense.spent_on]} if expense.project_id else {}
    assert expense.id is not None
    for field in TRACKED:
        if field not in changes:
            continue
        old, new = getattr(expense, field), changes[field]
        if old == new:
            continue
        if field == "amount":
            record(session, expense.id, field, format_amount(old, expense.currency), str(new))
        else:
            record(session, expense.id, field, old, new)
        setattr(expense, field, new)
    if session.is_modified(expense):
        expense.updated_at = utcnow()
        await session.flush()
        if expense.project_id is not None:
            touched.setdefault(expense.project_id, []).append(expense.spent_on)
            await budgets.check_alerts(session, touched)
    return expense


async def delete_expense(
    session: AsyncSession, user: User, expense_id: int, if_match: str | None
) -> None:
    """Soft delete: the expense leaves lists and totals, and can be restored."""
    expense = await editable_expense(session, user, expense_id)
    await lock_for_write(session, expense, if_match)
    if expense.deleted_at is not None:
        raise ExpenseDeleted("This expense is already deleted")
    expense.deleted_at = utcnow()
    assert expense.id is not None
    record(session, expense.id, "deleted", None, expense.deleted_at.isoformat())
    await session.flush()


async def purge_expense(
    session: AsyncSession, user: User, expense_id: int, if_match: str | None
) -> None:
    """Delete for good: the expense, its audit trail, its receipts and their blobs."""
    expense = await editable_expense(session, user, expense_id)
    await lock_for_write(session, expense, if_match)
    forget_blobs(session, await blob_keys_for_expense(session, expense_id))
    await session.delete(expense)
    await session.flush()


async def restore_expense(
    session: AsyncSession, user: User, expense_id: int, if_match: str | None
) -> Expense:
    expense = await editable_expense(session, user, expense_id)
    await lock_for_write(session, expense, if_match)
    if expense.deleted_at is None:
        raise ExpenseNotDeleted()
    assert expense.id is not None
    record(session, expense.id, "restored", expense.deleted_at.isoformat(), None)
    expense.deleted_at = None
    expense.updated_at = utcnow()
    await session.flush()
    if expense.project_id is not None:
        await budgets.check_alerts(session, {expense.project_id: [expense.spent_on]})
    return expense


async def list_history(
    session: AsyncSession, user: User, expense_id: int, params: PageParams
) -> tuple[list[ExpenseActivityRead], str | None]:
    expense = await get_expense(session, user, expense_id)
    assert expense.id is not None
    key = resolve_sort(
        params.sort, {"at": ExpenseActivity.id}, tiebreak=ExpenseActivity.id, default="at"
    )
    rows, cursor = await paginate(session, repository.activity_query(expense.id), key, params)
    actors = await repository.users_by_id(session, {r.actor_id for r in rows if r.actor_id})
    return [
        ExpenseActivityRead(
            id=r.id or 0,
            at=r.at,
            actor=UserRef(id=r.actor_id, full_name=actors[r.actor_id].full_name)
            if r.actor_id is not None and r.actor_id in actors
            else None,
            field=r.field,
            old=r.old,
            new=r.new,
        )
        for r in rows
    ], cursor


# ----- categories --------------------------------------------------------------------------


async def get_category(session: AsyncSession, category_id: int) -> ExpenseCategory:
    category = await session.get(ExpenseCategory, category_id)
    if category is None:
        raise CategoryNotFound()
    return category


async def categories_read(
    session: AsyncSession, categories: Sequence[ExpenseCategory]
) -> list[CategoryRead]:
    paths = await category_paths(session)
    return [
        CategoryRead(
            id=c.id or 0,
            name=c.name,
            parent_id=c.parent_id,
            path=paths.get(c.id or 0, c.name),
            version=c.version,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )
        for c in categories
    ]


async def list_categories(
    session: AsyncSession, params: PageParams
) -> tuple[list[CategoryRead], str | None]:
    key = resolve_sort(
        params.sort,
        {"id": ExpenseCategory.id, "name": ExpenseCategory.name},
        tiebreak=ExpenseCategory.id,
        default="id",
    )
    rows, cursor = await paginate(session, repository.categories_query(), key, params)
    return await categories_read(session, rows), cursor


async def _check_placement(
    session: AsyncSession, name: str, parent_id: int | None, category_id: int | None
) -> None:
    if parent_id is not None:
        parent = await session.get(ExpenseCategory, parent_id)
        if parent is None or parent.parent_id is not None or parent_id == category_id:
            raise InvalidCategoryParent(
                f"parent_id {parent_id} is not a top-level category"
                if parent is not None
                else f"no category {parent_id}"
            )
        if category_id is not None and await repository.category_has_children(session, category_id):
            raise InvalidCategoryParent("A category with subcategories cannot become one")
    if await repository.category_name_taken(session, name, parent_id, category_id):
        raise CategoryNameTaken(f"{name!r} already exists at this level")


async def create_category(session: AsyncSession, data: CategoryCreate) -> ExpenseCategory:
    await _check_placement(session, data.name, data.parent_id, None)
    category = ExpenseCategory(name=data.name, parent_id=data.parent_id)
    if not await flush_new(session, category):  # the same name added at the same moment
        raise CategoryNameTaken(f"{data.name!r} already exists at this level")
    return category


async def update_category(
    session: AsyncSession, category_id: int, data: CategoryUpdate, if_match: str | None
) -> ExpenseCategory:
    category = await get_category(session, category_id)
    await lock_for_write(session, category, if_match)
    changes = data.model_dump(exclude_unset=True)
    name = changes.get("name") or category.name
    parent_id = changes.get("parent_id", category.parent_id)
    await _check_placement(session, name, parent_id, category_id)
    if (name, parent_id) != (category.name, category.parent_id):
        changed = {"name": name, "parent_id": parent_id, "updated_at": utcnow()}
        if not await flush_change(session, category, **changed):  # taken at the same moment
            raise CategoryNameTaken(f"{name!r} already exists at this level")
    return category


async def delete_category(session: AsyncSession, category_id: int, if_match: str | None) -> None:
    category = await get_category(session, category_id)
    await lock_for_write(session, category, if_match)
    if await repository.category_has_children(session, category_id):
        raise CategoryInUse("This category has subcategories; delete or move them first")
    if await repository.category_in_use(session, category_id):
        raise CategoryInUse(
            "Expenses (possibly deleted ones) use this category; recategorise them first"
        )
    await session.delete(category)
    await session.flush()


# ----- Idempotency-Key ---------------------------------------------------------------------


@dataclass(frozen=True)
class Replay:
    """The answer first given under an Idempotency-Key, to give again as it was."""

    status_code: int
    body: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class Answer(Generic[M]):
    body: M
    headers: dict[str, str]


async def record_expense(
    session: AsyncSession, user: User, data: ExpenseCreate, idempotency_key: str | None
) -> Answer[ExpenseRead] | Replay:
    """`create_expense` as POST /expenses answers it: once per Idempotency-Key."""

    async def create() -> Answer[ExpenseRead]:
        expense = await create_expense(session, user, data)
        location = f"/api/v1/expenses/{expense.id}"
        headers = {"Location": location, "ETag": etag(expense.version)}
        return Answer(await read_one(session, expense), headers)

    fingerprint = request_fingerprint(json.dumps(data.model_dump(mode="json"), sort_keys=True))
    return await once(session, user, idempotency_key, "expenses.create", fingerprint, 201, create)


async def once(
    session: AsyncSession,
    user: User,
    key: str | None,
    operation: str,
    fingerprint: str,
    status_code: int,
    work: Callable[[], Awaitable[Answer[M]]],
) -> Answer[M] | Replay:
    """Do ``work`` and keep its answer under ``key``; or replay the answer kept there."""
    if key is None:
        return await work()
    reservation = await reserve_key(session, uid(user), key, operation, fingerprint)
    if isinstance(reservation, Replay):
        return reservation
    answer = await work()
    reservation.status_code = status_code
    kept = {"body": answer.body.model_dump(mode="json"), "headers": answer.headers}
    reservation.response = json.dumps(kept)
    await session.flush()
    return answer


async def reserve_key(
    session: AsyncSession, user_id: int, key: str, operation: str, fingerprint: str
) -> ExpenseIdempotencyKey | Replay:
    """Reserve ``key`` for this request (the row it answers into), or the answer to replay.

    The reservation is written first and commits with the answer, so a concurrent retry with
    the same key waits for it (PostgreSQL: on the unique key; SQLite: for the write lock) and
    replays the answer instead of doing the work twice. A request that fails takes its
    reservation with it, so the key is free for the retry. Before `flush_new` did this insert,
    on SQLite a failed request's reservation stayed behind without an answer: such a row
    only ever comes from that, and gives way.
    """
    earlier = await repository.idempotency_record(session, user_id, key)
    if earlier is None or earlier.status_code == 0:
        if earlier is not None:
            session.expunge(earlier)
            await repository.forget_unanswered_key(session, user_id, key)
        reservation = ExpenseIdempotencyKey(
            user_id=user_id,
            key=key,
            operation=operation,
            request_fingerprint=fingerprint,
            status_code=0,
            response="",
        )
        if await flush_new(session, reservation):
            return reservation
        earlier = await repository.idempotency_record(session, user_id, key)  # it was first
        assert earlier is not None
    if earlier.operation != operation or earlier.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was first used with a different request; use a new key"
        )
    kept = json.loads(earlier.response)
    return Replay(earlier.status_code, kept["body"], kept["headers"])


def request_fingerprint(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\x1f")
    return digest.hexdigest()


def parse_group_by(raw: str | None) -> list[GroupBy]:
    """`category,month` -> ["category", "month"]; order kept, repeats dropped."""
    out: list[GroupBy] = []
    for part in (p.strip() for p in (raw or "").split(",") if raw):
        group = next((g for g in GROUPS if g == part), None)
        if group is None:
            raise InvalidExpense(
                ["query", "group_by"], f"{part!r} is not a grouping; use any of {', '.join(GROUPS)}"
            )
        if group not in out:
            out.append(group)
    return out
