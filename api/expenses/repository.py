"""Every query of the expense tracker: filtered lists, totals in SQL, categories, budgets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    Date,
    Integer,
    Select,
    String,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col

from api.db import UTCDateTime
from api.models import (
    Budget,
    BudgetAlert,
    Expense,
    ExpenseActivity,
    ExpenseCategory,
    ExpenseIdempotencyKey,
    Project,
    ProjectMember,
    User,
)
from api.money import Money


@dataclass(frozen=True)
class ExpenseFilters:
    """What a list, a summary and an export select. `user_id` None: everyone's (admins)."""

    user_id: int | None
    date_from: date | None = None
    date_to: date | None = None
    category_ids: Sequence[int] | None = None
    project_id: int | None = None
    q: str | None = None
    deleted: bool = False


class year_month(FunctionElement[str]):
    """'YYYY-MM' of a DATE column, on PostgreSQL and SQLite alike."""

    type = String()
    inherit_cache = True


@compiles(year_month, "postgresql")
def _year_month_pg(element: year_month, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM')"


@compiles(year_month)
def _year_month_sqlite(element: year_month, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps DATE as 'YYYY-MM-DD' text.
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 7)"


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def filtered(stmt: Select[Any], f: ExpenseFilters) -> Select[Any]:
    stmt = stmt.where(
        col(Expense.deleted_at).is_not(None) if f.deleted else col(Expense.deleted_at).is_(None)
    )
    if f.user_id is not None:
        stmt = stmt.where(col(Expense.user_id) == f.user_id)
    if f.date_from is not None:
        stmt = stmt.where(col(Expense.spent_on) >= f.date_from)
    if f.date_to is not None:
        stmt = stmt.where(col(Expense.spent_on) <= f.date_to)
    if f.category_ids is not None:
        stmt = stmt.where(col(Expense.category_id).in_(f.category_ids))
    if f.project_id is not None:
        stmt = stmt.where(col(Expense.project_id) == f.project_id)
    if f.q:
        stmt = stmt.where(col(Expense.description).ilike(_like(f.q), escape="\\"))
    return stmt


def list_query(f: ExpenseFilters) -> Select[Any]:
    return filtered(select(Expense), f)


async def export_batch(
    session: AsyncSession, f: ExpenseFilters, after: tuple[date, int] | None, limit: int
) -> list[Expense]:
    """The next `limit` expenses in (spent_on, id) order after `after`."""
    stmt = list_query(f)
    if after is not None:
        stmt = stmt.where(
            tuple_(col(Expense.spent_on), col(Expense.id))
            > tuple_(literal(after[0], Date()), literal(after[1], Integer()))
        )
    stmt = stmt.order_by(col(Expense.spent_on), col(Expense.id)).limit(limit)
    return list(await session.scalars(stmt))


GROUP_COLUMNS: dict[str, Any] = {
    "category": col(Expense.category_id).label("category_id"),
    "month": year_month(col(Expense.spent_on)).label("month"),
    "project": col(Expense.project_id).label("project_id"),
    "user": col(Expense.user_id).label("user_id"),
}


async def summary(
    session: AsyncSession, f: ExpenseFilters, group_by: Sequence[str]
) -> list[dict[str, Any]]:
    """Totals per group and currency, added up by the database; currencies never mix."""
    groups = [GROUP_COLUMNS[g] for g in group_by]
    total = func.sum(col(Expense.amount), type_=Money).label("total")
    stmt = filtered(
        select(*groups, col(Expense.currency), total, func.count().label("count")), f
    ).group_by(*groups, col(Expense.currency))
    # NULL (no project) last on every database, so both list rows in one order.
    stmt = stmt.order_by(*(g.asc().nulls_last() for g in groups), col(Expense.currency))
    return [dict(row._mapping) for row in await session.execute(stmt)]


async def totals_by_currency(
    session: AsyncSession, project_id: int, start: date | None, end: date | None
) -> dict[str, tuple[Decimal, int]]:
    """A project's live expenses per currency, optionally within [start, end]."""
    totals = cast(
        "Select[Any]",
        select(col(Expense.currency), func.sum(col(Expense.amount), type_=Money), func.count()),
    )
    stmt = filtered(
        totals,
        ExpenseFilters(user_id=None, project_id=project_id, date_from=start, date_to=end),
    ).group_by(col(Expense.currency))
    return {cur: (total, count) for cur, total, count in await session.execute(stmt)}


async def users_by_id(session: AsyncSession, ids: Iterable[int]) -> dict[int, User]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.scalars(select(User).where(col(User.id).in_(wanted)))
    return {u.id: u for u in rows if u.id is not None}


async def project_keys(session: AsyncSession, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.execute(
        select(col(Project.id), col(Project.key)).where(col(Project.id).in_(wanted))
    )
    return {pid: key for pid, key in rows if pid is not None}


async def project_by_key(session: AsyncSession, key: str) -> Project | None:
    return await session.scalar(select(Project).where(col(Project.key) == key.upper()))


async def is_member(session: AsyncSession, project_id: int, user_id: int) -> bool:
    return await session.get(ProjectMember, (project_id, user_id)) is not None


async def member_ids(session: AsyncSession, project_id: int) -> list[int]:
    rows = await session.scalars(
        select(col(ProjectMember.user_id))
        .join(User, col(User.id) == ProjectMember.user_id)
        .where(col(ProjectMember.project_id) == project_id, col(User.is_active).is_(True))
    )
    return list(rows)


# ----- categories --------------------------------------------------------------------------


async def all_categories(session: AsyncSession) -> list[ExpenseCategory]:
    return list(await session.scalars(select(ExpenseCategory)))


def categories_query() -> Select[Any]:
    return select(ExpenseCategory)


async def category_name_taken(
    session: AsyncSession, name: str, parent_id: int | None, except_id: int | None
) -> bool:
    parent = (
        col(ExpenseCategory.parent_id).is_(None)
        if parent_id is None
        else col(ExpenseCategory.parent_id) == parent_id
    )
    stmt = select(
        exists().where(
            func.lower(col(ExpenseCategory.name)) == name.lower(),
            parent,
            col(ExpenseCategory.id) != (except_id or 0),
        )
    )
    return bool(await session.scalar(stmt))


async def category_has_children(session: AsyncSession, category_id: int) -> bool:
    stmt = select(exists().where(col(ExpenseCategory.parent_id) == category_id))
    return bool(await session.scalar(stmt))


async def category_in_use(session: AsyncSession, category_id: int) -> bool:
    """Deleted expenses count: restoring one must find its category."""
    stmt = select(exists().where(col(Expense.category_id) == category_id))
    return bool(await session.scalar(stmt))


async def child_ids(session: AsyncSession, category_id: int) -> list[int]:
    rows = await session.scalars(
        select(col(ExpenseCategory.id)).where(col(ExpenseCategory.parent_id) == category_id)
    )
    return [i for i in rows if i is not None]


# ----- history -----------------------------------------------------------------------------


def activity_query(expense_id: int) -> Select[Any]:
    return select(ExpenseActivity).where(col(ExpenseActivity.expense_id) == expense_id)


# ----- budgets -----------------------------------------------------------------------------


async def budget_for(session: AsyncSession, project_id: int) -> Budget | None:
    return await session.scalar(select(Budget).where(col(Budget.project_id) == project_id))


async def budgets_for(session: AsyncSession, project_ids: Iterable[int]) -> list[Budget]:
    wanted = set(project_ids)
    if not wanted:
        return []
    return list(await session.scalars(select(Budget).where(col(Budget.project_id).in_(wanted))))


async def alerted_periods(session: AsyncSession, budget_id: int) -> set[str]:
    rows = await session.scalars(
        select(col(BudgetAlert.period)).where(col(BudgetAlert.budget_id) == budget_id)
    )
    return set(rows)


async def forget_alerts(session: AsyncSession, budget_id: int) -> None:
    await session.execute(delete(BudgetAlert).where(col(BudgetAlert.budget_id) == budget_id))


# ----- imports and replays -----------------------------------------------------------------


async def live_expense_keys(
    session: AsyncSession, user_id: int, ids: Iterable[int]
) -> dict[int, tuple[date, Decimal, str, int, str, int | None]]:
    """What the CSV export writes of those of ``ids`` that are the user's and not deleted:
    (spent_on, amount, currency, category_id, description, project_id)."""
    e = Expense
    rows = await session.execute(
        select(
            col(e.id), col(e.spent_on), col(e.amount), col(e.currency),
            col(e.category_id), col(e.description), col(e.project_id),
        )
        .where(col(e.user_id) == user_id, col(e.id).in_(set(ids)), col(e.deleted_at).is_(None))
    )  # fmt: skip
    return {
        row.id: (
            row.spent_on,
            row.amount,
            row.currency,
            row.category_id,
            row.description,
            row.project_id,
        )
        for row in rows
    }


async def existing_fingerprints(
    session: AsyncSession, user_id: int, fingerprints: Iterable[str]
) -> set[str]:
    wanted = list(set(fingerprints))
    if not wanted:
        return set()
    fingerprint = col(Expense.import_fingerprint)
    stmt = select(fingerprint).where(col(Expense.user_id) == user_id)
    if session.get_bind().dialect.name == "postgresql":
        # Probe the (user_id, import_fingerprint) index once per wanted value, whatever the
        # table's statistics say (a big import runs before any ANALYZE has seen its rows).
        wanted_table = (
            func.unnest(literal(wanted, ARRAY(String()))).table_valued("fp").render_derived()
        )
        stmt = stmt.join(wanted_table, fingerprint == wanted_table.c.fp)
    else:
        stmt = stmt.where(fingerprint.in_(wanted))
    rows = await session.scalars(stmt)
    return {r for r in rows if r is not None}


async def record_import(
    session: AsyncSession, user_id: int, actor_id: int | None, at: datetime
) -> None:
    """One 'created' history line per expense of the import that ran at `at`, set-based."""
    source = select(
        col(Expense.id),
        literal(actor_id, Integer()),
        literal("created"),
        literal("imported from CSV"),
        literal(at, UTCDateTime()),
    ).where(
        col(Expense.user_id) == user_id,
        col(Expense.created_at) == at,
        col(Expense.import_fingerprint).is_not(None),
    )
    await session.execute(
        insert(ExpenseActivity).from_select(
            ["expense_id", "actor_id", "field", "new", "at"], source
        )
    )


async def idempotency_record(
    session: AsyncSession, user_id: int, key: str
) -> ExpenseIdempotencyKey | None:
    """As stored now: read again after losing the race to insert it."""
    return await session.get(ExpenseIdempotencyKey, (user_id, key), populate_existing=True)


async def forget_unanswered_key(session: AsyncSession, user_id: int, key: str) -> None:
    """Delete ``key``'s reservation if it holds no answer (see `service.reserve_key`)."""
    await session.execute(
        delete(ExpenseIdempotencyKey).where(
            col(ExpenseIdempotencyKey.user_id) == user_id,
            col(ExpenseIdempotencyKey.key) == key,
            col(ExpenseIdempotencyKey.status_code) == 0,
        )
    )


def visible_project_ids(user_id: int) -> Select[Any]:
    return select(col(ProjectMember.project_id)).where(col(ProjectMember.user_id) == user_id)
