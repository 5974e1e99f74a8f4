"""Project budgets: spent and remaining in the budget's currency, and the once-per-period alert.

Periods are calendar months of `spent_on` (a plain date, so no time zone decides which month an
expense belongs to) or the project's whole life ("total"). The alert goes out the first time the
live expenses of a period, in the budget's currency, reach `alert_at_percent` of the amount; a
`budget_alert` row per (budget, period) makes it once. Changing the budget re-arms its alerts.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.concurrency import lock_for_write
from api.db import utcnow
from api.errors import BadRequest
from api.expenses import repository
from api.expenses.exceptions import BudgetNotFound
from api.expenses.schemas import BudgetRead, BudgetSet, CurrencyTotal
from api.models import Budget, BudgetAlert, BudgetPeriod, Project, User
from api.money import format_amount
from api.notifications.service import notify
from api.projects.service import get_visible_project

TOTAL = "total"


class InvalidPeriod(BadRequest):
    code = "invalid_period"
    title = "The period must be a month, YYYY-MM"


@dataclass(frozen=True)
class Period:
    key: str  # "total" or "YYYY-MM"
    start: date | None
    end: date | None  # inclusive


def month_period(day: date) -> Period:
    last = calendar.monthrange(day.year, day.month)[1]
    return Period(f"{day:%Y-%m}", day.replace(day=1), day.replace(day=last))


def parse_month(text: str) -> Period:
    try:
        year, month = text.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError(text)
        return month_period(date(int(year), int(month), 1))
    except ValueError as exc:
        raise InvalidPeriod(f"{text!r} is not a month; use YYYY-MM, e.g. 2026-03") from exc


def period_of(budget: Budget, day: date) -> Period:
    if budget.period == BudgetPeriod.total:
        return Period(TOTAL, None, None)
    return month_period(day)


def _percent(spent: Decimal, amount: Decimal) -> Decimal:
    return (spent * 100 / amount).quantize(Decimal("0.1"))


async def _spent(
    session: AsyncSession, budget: Budget, period: Period
) -> tuple[Decimal, list[CurrencyTotal]]:
    totals = await repository.totals_by_currency(
        session, budget.project_id, period.start, period.end
    )
    spent, _ = totals.pop(budget.currency, (Decimal(0), 0))
    others = [
        CurrencyTotal(currency=cur, total=format_amount(total, cur), count=count)
        for cur, (total, count) in sorted(totals.items())
    ]
    return spent, others


async def read_budget(
    session: AsyncSession, user: User, project_ref: str, month: str | None
) -> BudgetRead:
    project = await get_visible_project(session, user, project_ref)
    assert project.id is not None
    budget = await repository.budget_for(session, project.id)
    if budget is None:
        raise BudgetNotFound()
    return await to_read(session, budget, month)


async def to_read(session: AsyncSession, budget: Budget, month: str | None = None) -> BudgetRead:
    assert budget.id is not None
    if budget.period == BudgetPeriod.total:
        period = Period(TOTAL, None, None)
    else:
        period = parse_month(month) if month else month_period(utcnow().date())
    spent, others = await _spent(session, budget, period)
    cur = budget.currency
    return BudgetRead(
        project_id=budget.project_id,
        amount=format_amount(budget.amount, cur),
        currency=cur,
        period=budget.period,
        alert_at_percent=budget.alert_at_percent,
        period_key=period.key,
        period_start=period.start,
        period_end=period.end,
        spent=format_amount(spent, cur),
        remaining=format_amount(budget.amount - spent, cur),
        percent_used=str(_percent(spent, budget.amount)),
        alerted=period.key in await repository.alerted_periods(session, budget.id),
        not_counted=others,
        version=budget.version,
        updated_at=budget.updated_at,
    )


async def set_budget(
    session: AsyncSession, user: User, project_ref: str, data: BudgetSet, if_match: str | None
) -> tuple[Budget, bool]:
    """Create or replace the project's budget; returns it and whether it was created."""
    project = await get_visible_project(session, user, project_ref)
    assert project.id is not None
    budget = await repository.budget_for(session, project.id)
    created = budget is None
    if budget is None:
        budget = Budget(project_id=project.id, **data.model_dump(), set_by_id=user.id)
        session.add(budget)
        await session.flush()
    else:
        await lock_for_write(session, budget, if_match)
        wanted = data.model_dump()
        if any(getattr(budget, k) != v for k, v in wanted.items()):
            for field, value in wanted.items():
                setattr(budget, field, value)
            budget.set_by_id = user.id
            await session.flush()
            assert budget.id is not None
            # A new amount or threshold is a new promise: its crossing is news again.
            await repository.forget_alerts(session, budget.id)
    await check_alerts(session, {project.id: [utcnow().date()]})
    return budget, created


async def delete_budget(
    session: AsyncSession, user: User, project_ref: str, if_match: str | None
) -> None:
    project = await get_visible_project(session, user, project_ref)
    assert project.id is not None
    budget = await repository.budget_for(session, project.id)
    if budget is None:
        raise BudgetNotFound()
    await lock_for_write(session, budget, if_match)
    await session.delete(budget)
    await session.flush()


async def check_alerts(session: AsyncSession, spending: Mapping[int, Iterable[date]]) -> None:
    """After spending changed on these projects at these dates, send the alerts now due."""
    for budget in await repository.budgets_for(session, spending):
        assert budget.id is not None
        periods = {period_of(budget, day) for day in spending[budget.project_id]}
        done = await repository.alerted_periods(session, budget.id)
        for period in sorted(periods, key=lambda p: p.key):
            if period.key in done:
                continue
            spent, _ = await _spent(session, budget, period)
            if spent * 100 < budget.amount * budget.alert_at_percent:
                continue
            if await _record_alert(session, budget.id, period.key):
                await _notify(session, budget, period, spent)


async def _record_alert(session: AsyncSession, budget_id: int, period: str) -> bool:
    """Claim the period's alert; False when a concurrent request claimed it first."""
    try:
        async with session.begin_nested():
            session.add(BudgetAlert(budget_id=budget_id, period=period))
            await session.flush()
    except IntegrityError:
        return False
    return True


async def _notify(session: AsyncSession, budget: Budget, period: Period, spent: Decimal) -> None:
    project = await session.get(Project, budget.project_id)
    assert project is not None
    cur = budget.currency
    when = "in total" if period.key == TOTAL else f"in {period.key}"
    # Members spend against the budget; whoever set it owns it (admins need not be members).
    recipients = await repository.member_ids(session, budget.project_id)
    if budget.set_by_id is not None:
        recipients.append(budget.set_by_id)
    await notify(
        session,
        recipients,
        kind="budget.alert",
        title=(
            f"{project.key} has spent {_percent(spent, budget.amount)}% of its budget {when}: "
            f"{format_amount(spent, cur)} of {format_amount(budget.amount, cur)} {cur}"
        ),
        body=f"The alert threshold is {budget.alert_at_percent}%.",
        link=f"/projects/{project.key}/budget",
    )
