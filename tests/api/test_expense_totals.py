"""Totals are exact, added up by the database, and never mix currencies."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from api.models import Expense
from api.money import format_amount, minor_units
from tests.api.bug_helpers import make_project
from tests.api.expense_helpers import URL, category_id, make_expense
from tests.conftest import auth_headers

CURRENCIES = ["EUR", "JPY", "KWD", "USD", "CLF"]


async def summary(client, user, **params):
    r = await client.get(f"{URL}/summary", params=params, headers=auth_headers(user))
    assert r.status_code == 200, r.text
    return r.json()["rows"]


async def test_ten_cents_and_twenty_cents_make_thirty(client, tester):
    await make_expense(client, tester, amount="0.10")
    await make_expense(client, tester, amount="0.20")
    assert await summary(client, tester) == [{"currency": "EUR", "total": "0.30", "count": 2}]


async def test_currencies_are_never_added_together(client, tester):
    await make_expense(client, tester, amount="10.00", currency="EUR")
    await make_expense(client, tester, amount="10.00", currency="USD")
    await make_expense(client, tester, amount="1000", currency="JPY")
    await make_expense(client, tester, amount="0.005", currency="KWD")
    assert await summary(client, tester) == [
        {"currency": "EUR", "total": "10.00", "count": 1},
        {"currency": "JPY", "total": "1000", "count": 1},
        {"currency": "KWD", "total": "0.005", "count": 1},
        {"currency": "USD", "total": "10.00", "count": 1},
    ]


async def test_groupings_combine_and_months_follow_the_calendar_date(client, tester, admin):
    project = await make_project(client, admin, tester)
    flights = await category_id(client, tester, "Travel/Flights")
    meals = await category_id(client, tester, "Meals")
    await make_expense(client, tester, amount="1.00", spent_on="2026-01-31", category_id=meals)
    await make_expense(client, tester, amount="2.00", spent_on="2026-02-01", category_id=meals)
    await make_expense(
        client,
        tester,
        amount="4.00",
        spent_on="2026-02-28",
        category_id=flights,
        project_id=project["id"],
    )
    await make_expense(client, admin, amount="8.00", spent_on="2026-02-15", category_id=meals)
    assert await summary(client, tester, group_by="month") == [
        {"month": "2026-01", "currency": "EUR", "total": "1.00", "count": 1},
        {"month": "2026-02", "currency": "EUR", "total": "6.00", "count": 2},
    ]
    by_category = await summary(client, tester, group_by="category,month", **{"from": "2026-02-01"})
    assert by_category == sorted(
        [
            {
                "category_id": meals,
                "category": "Meals",
                "month": "2026-02",
                "currency": "EUR",
                "total": "2.00",
                "count": 1,
            },
            {
                "category_id": flights,
                "category": "Travel/Flights",
                "month": "2026-02",
                "currency": "EUR",
                "total": "4.00",
                "count": 1,
            },
        ],
        key=lambda r: r["category_id"],
    )
    assert await summary(client, tester, group_by="project") == [
        {
            "project_id": project["id"],
            "project_key": project["key"],
            "currency": "EUR",
            "total": "4.00",
            "count": 1,
        },
        {"project_id": None, "project_key": None, "currency": "EUR", "total": "3.00", "count": 2},
    ]
    everyone = await summary(client, admin, group_by="user,month")
    assert {(r["user_id"], r["user_name"], r["month"], r["total"]) for r in everyone} == {
        (tester.id, tester.full_name, "2026-01", "1.00"),
        (tester.id, tester.full_name, "2026-02", "6.00"),
        (admin.id, admin.full_name, "2026-02", "8.00"),
    }
    assert await summary(client, admin, group_by="user", user_id=tester.id) == [
        {
            "user_id": tester.id,
            "user_name": tester.full_name,
            "currency": "EUR",
            "total": "7.00",
            "count": 3,
        }
    ]


async def test_unknown_groupings_are_422(client, tester):
    r = await client.get(
        f"{URL}/summary", params={"group_by": "month,colour"}, headers=auth_headers(tester)
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["query", "group_by"]


def amounts(currency: str) -> st.SearchStrategy[Decimal]:
    exponent = minor_units(currency)
    return st.integers(min_value=1, max_value=10**11).map(
        lambda n: Decimal(n).scaleb(-exponent) if exponent else Decimal(n)
    )


EXPENSES = st.lists(
    st.sampled_from(CURRENCIES).flatmap(
        lambda cur: st.tuples(st.just(cur), amounts(cur), st.integers(min_value=0, max_value=400))
    ),
    min_size=1,
    max_size=40,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(expenses=EXPENSES)
async def test_totals_equal_the_exact_sum_of_the_parts(client, db, tester, expenses):
    category = await category_id(client, tester)
    start = date(2026, 1, 1)
    db.add_all(
        Expense(
            user_id=tester.id,
            category_id=category,
            amount=amount,
            currency=currency,
            spent_on=start + timedelta(days=day),
        )
        for currency, amount, day in expenses
    )
    await db.commit()
    try:
        expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for currency, amount, day in expenses:
            month = f"{start + timedelta(days=day):%Y-%m}"
            expected[month, currency] += amount
            counts[month, currency] += 1
        rows = await summary(client, tester, group_by="month")
        assert {(r["month"], r["currency"]): r["total"] for r in rows} == {
            key: format_amount(total, key[1]) for key, total in expected.items()
        }
        assert {(r["month"], r["currency"]): r["count"] for r in rows} == counts
        per_currency = await summary(client, tester)
        for row in per_currency:
            exact = sum(a for c, a, _ in expenses if c == row["currency"])
            assert Decimal(row["total"]) == exact
    finally:
        await db.execute(delete(Expense).where(Expense.user_id == tester.id))
        await db.commit()


@given(currency=st.sampled_from(sorted(CURRENCIES)), minor=st.integers(0, 10**15))
def test_formatting_keeps_every_digit(currency, minor):
    exponent = minor_units(currency)
    amount = Decimal(minor).scaleb(-exponent)
    text = format_amount(amount, currency)
    assert Decimal(text) == amount
    assert len(text.partition(".")[2]) == exponent
