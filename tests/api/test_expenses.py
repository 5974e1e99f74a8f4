"""Recording, reading, listing, editing, deleting and restoring expenses."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from api.models import Expense, ExpenseActivity, ExpenseIdempotencyKey
from tests.api.bug_helpers import make_project
from tests.api.expense_helpers import URL, category_id, make_expense
from tests.conftest import auth_headers


async def test_an_expense_reads_back_exactly(client, tester):
    created = await make_expense(client, tester, amount="0.10", description="Coffee")
    assert created["amount"] == "0.10"
    assert created["currency"] == "EUR"
    assert created["spent_on"] == "2026-03-29"
    assert created["category"] == "Meals"
    assert created["user"]["id"] == tester.id
    assert created["version"] == 1 and created["deleted_at"] is None
    r = await client.get(f"{URL}/{created['id']}", headers=auth_headers(tester))
    assert r.status_code == 200
    assert r.json() == created
    assert r.headers["ETag"] == '"1"'


async def test_a_planned_expense_may_be_dated_up_to_a_year_ahead(client, tester):
    ahead = date.today() + timedelta(days=365)
    created = await make_expense(client, tester, spent_on=ahead.isoformat())
    assert created["spent_on"] == ahead.isoformat()


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("12.3", "EUR", "12.30"),
        ("500", "JPY", "500"),
        ("1.234", "KWD", "1.234"),
        ("7", "usd", "7.00"),
    ],
)
async def test_amounts_show_the_currency_minor_digits(client, tester, amount, currency, shown):
    created = await make_expense(client, tester, amount=amount, currency=currency)
    assert created["amount"] == shown
    assert created["currency"] == currency.upper()


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5.00"}, "amount"),
        ({"amount": 12.3}, "amount"),
        ({"amount": "1e3"}, "amount"),
        ({"amount": "1,50"}, "amount"),
        ({"amount": "12.345"}, None),
        ({"amount": "12.5", "currency": "JPY"}, None),
        ({"amount": "1.2345", "currency": "KWD"}, None),
        ({"amount": "1000000000000"}, "amount"),
        ({"currency": "ZZZ"}, "currency"),
        ({"currency": "DEM"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"spent_on": "2026-02-30"}, "spent_on"),
        ({"spent_on": "2026-13-01"}, "spent_on"),
        ({"spent_on": "2026-03-29T10:00:00+02:00"}, "spent_on"),
        ({"spent_on": "29/03/2026"}, "spent_on"),
        ({"spent_on": 1774742400}, "spent_on"),
        ({"spent_on": "3026-03-29"}, "spent_on"),  # a typo for 2026: more than a year ahead
        ({"spent_on": "1026-03-29"}, "spent_on"),
        ({"category_id": 999_999}, "category_id"),
        ({"project_id": 999_999}, "project_id"),
        ({"user_id": 1}, "user_id"),
    ],
)
async def test_bad_expenses_are_422_and_change_nothing(client, tester, db, change, loc):
    body = {
        "amount": "12.30",
        "currency": "EUR",
        "category_id": await category_id(client, tester),
        "spent_on": "2026-03-29",
        **change,
    }
    r = await client.post(URL, json=body, headers=auth_headers(tester))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "validation_error"
    if loc:
        assert loc in problem["errors"][0]["loc"]
    assert await db.scalar(select(func.count()).select_from(Expense)) == 0


async def test_edits_are_checked_against_the_stored_currency(client, tester):
    expense = await make_expense(client, tester, amount="100", currency="JPY")
    h = auth_headers(tester)
    r = await client.patch(f"{URL}/{expense['id']}", json={"amount": "1.50"}, headers=h)
    assert r.status_code == 422
    r = await client.patch(f"{URL}/{expense['id']}", json={"currency": "EUR"}, headers=h)
    assert r.status_code == 200
    assert (r.json()["amount"], r.json()["currency"]) == ("100.00", "EUR")
    r = await client.patch(f"{URL}/{expense['id']}", json={"category_id": None}, headers=h)
    assert r.status_code == 422


async def test_every_edit_is_in_the_history(client, tester):
    expense = await make_expense(client, tester)
    h = auth_headers(tester)
    travel = await category_id(client, tester, "Travel/Flights")
    r = await client.patch(
        f"{URL}/{expense['id']}",
        json={"amount": "15.00", "category_id": travel, "description": "Lunch"},
        headers={**h, "If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.headers["ETag"] == '"2"'
    history = (await client.get(f"{URL}/{expense['id']}/history", headers=h)).json()["items"]
    assert [(a["field"], a["old"], a["new"]) for a in history] == [
        ("created", None, "12.30 EUR on 2026-03-29"),
        ("amount", "12.30", "15.00"),
        ("category_id", str(expense["category_id"]), str(travel)),
    ]
    assert all(a["actor"]["id"] == tester.id for a in history)


async def test_a_stale_if_match_is_412_and_changes_nothing(client, tester):
    expense = await make_expense(client, tester)
    h = auth_headers(tester)
    await client.patch(f"{URL}/{expense['id']}", json={"description": "a"}, headers=h)
    r = await client.patch(
        f"{URL}/{expense['id']}", json={"description": "b"}, headers={**h, "If-Match": '"1"'}
    )
    assert r.status_code == 412
    assert r.json()["code"] == "version_conflict"
    r = await client.delete(f"{URL}/{expense['id']}", headers={**h, "If-Match": '"1"'})
    assert r.status_code == 412
    assert (await client.get(f"{URL}/{expense['id']}", headers=h)).json()["description"] == "a"


async def test_deleted_expenses_leave_lists_and_totals_and_come_back(client, tester, db):
    expense = await make_expense(client, tester)
    h = auth_headers(tester)
    assert (await client.delete(f"{URL}/{expense['id']}", headers=h)).status_code == 204
    assert (await client.get(URL, headers=h)).json()["items"] == []
    assert (await client.get(f"{URL}/summary", headers=h)).json()["rows"] == []
    trash = (await client.get(URL, params={"deleted": "true"}, headers=h)).json()["items"]
    assert [e["id"] for e in trash] == [expense["id"]] and trash[0]["deleted_at"]
    r = await client.patch(f"{URL}/{expense['id']}", json={"description": "x"}, headers=h)
    assert r.json()["code"] == "expense_deleted"
    assert (await client.delete(f"{URL}/{expense['id']}", headers=h)).status_code == 409
    r = await client.post(f"{URL}/{expense['id']}/restore", headers=h)
    assert r.status_code == 200 and r.json()["deleted_at"] is None
    assert (await client.post(f"{URL}/{expense['id']}/restore", headers=h)).json()[
        "code"
    ] == "expense_not_deleted"
    assert [e["id"] for e in (await client.get(URL, headers=h)).json()["items"]] == [expense["id"]]
    fields = await db.scalars(
        select(ExpenseActivity.field).where(ExpenseActivity.expense_id == expense["id"])
    )
    assert list(fields) == ["created", "deleted", "restored"]


async def test_list_filters(client, tester, admin):
    project = await make_project(client, admin, tester)
    travel = await category_id(client, tester, "Travel")
    flights = await category_id(client, tester, "Travel/Flights")
    a = await make_expense(client, tester, spent_on="2026-01-31", description="Taxi to airport")
    b = await make_expense(
        client, tester, spent_on="2026-02-01", category_id=flights, project_id=project["id"]
    )
    c = await make_expense(client, tester, spent_on="2026-03-01", category_id=travel)
    h = auth_headers(tester)

    async def ids(**params):
        r = await client.get(URL, params=params, headers=h)
        assert r.status_code == 200, r.text
        return [e["id"] for e in r.json()["items"]]

    assert await ids() == [c["id"], b["id"], a["id"]]
    assert await ids(**{"from": "2026-02-01"}) == [c["id"], b["id"]]
    assert await ids(**{"to": "2026-02-01"}) == [b["id"], a["id"]]
    assert await ids(**{"from": "2026-02-01", "to": "2026-02-01"}) == [b["id"]]
    assert await ids(category_id=travel) == [c["id"], b["id"]]
    assert await ids(category_id=flights) == [b["id"]]
    assert await ids(project_id=project["id"]) == [b["id"]]
    assert await ids(q="AIRPORT") == [a["id"]]
    assert await ids(q="100%") == []
    assert await ids(sort="spent_on") == [a["id"], b["id"], c["id"]]
    r = await client.get(URL, params={"from": "2026-02-30"}, headers=h)
    assert r.status_code == 422
    r = await client.get(URL, params={"from": "2026-03-01", "to": "2026-02-01"}, headers=h)
    assert r.status_code == 422  # swapped: an error, not a silently empty list
    assert r.json()["errors"][0]["loc"] == ["query", "to"]


@pytest.mark.parametrize("sort", ["spent_on", "-spent_on", "amount", "-amount", "created_at"])
async def test_keyset_pages_cover_everything_once(client, tester, sort):
    made = [
        await make_expense(
            client, tester, amount=f"{n % 3 + 1}.{n:02d}", spent_on=f"2026-03-{n % 4 + 1:02d}"
        )
        for n in range(7)
    ]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, "sort": sort, **({"cursor": cursor} if cursor else {})}
        r = await client.get(URL, params=params, headers=auth_headers(tester))
        assert r.status_code == 200, r.text
        seen += [e["id"] for e in r.json()["items"]]
        cursor, pages = r.json()["next_cursor"], pages + 1
        if cursor is None:
            assert "Link" not in r.headers
            break
        assert 'rel="next"' in r.headers["Link"]
    assert sorted(seen) == sorted(e["id"] for e in made) and pages == 3
    key = sort.removeprefix("-")
    values = {e["id"]: e[key] for e in made}
    ordered = [values[i] for i in seen]
    if key == "amount":
        ordered = [float(v) for v in ordered]  # only to check the order
    assert ordered == sorted(ordered, reverse=sort.startswith("-"))


async def test_project_links_need_membership(client, tester, admin):
    project = await make_project(client, admin, key="OPS")
    r = await client.post(
        URL,
        json={
            "amount": "1.00",
            "currency": "EUR",
            "category_id": await category_id(client, tester),
            "spent_on": "2026-03-29",
            "project_id": project["id"],
        },
        headers=auth_headers(tester),
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "project_id"]
    mine = await make_expense(client, tester)
    r = await client.patch(
        f"{URL}/{mine['id']}", json={"project_id": project["id"]}, headers=auth_headers(tester)
    )
    assert r.status_code == 422
    linked = await make_expense(client, admin, project_id=project["id"])
    assert linked["project_key"] == "OPS"


async def test_a_retry_with_the_same_idempotency_key_creates_one_expense(client, tester, db):
    body = {
        "amount": "9.99",
        "currency": "EUR",
        "category_id": await category_id(client, tester),
        "spent_on": "2026-03-29",
    }
    h = {**auth_headers(tester), "Idempotency-Key": "k-1"}
    first = await client.post(URL, json=body, headers=h)
    again = await client.post(URL, json=body, headers=h)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert await db.scalar(select(func.count()).select_from(Expense)) == 1
    other = await client.post(URL, json={**body, "amount": "1.00"}, headers=h)
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
    assert await db.scalar(select(func.count()).select_from(Expense)) == 1


async def test_a_key_whose_request_failed_is_free_for_the_retry(client, tester, admin, db):
    """The failed request changed nothing, its key reservation included: the retry runs.

    On SQLite the reservation's SAVEPOINT was the request's first write, so pysqlite had begun
    no transaction and the savepoint committed on its own: every retry replayed an empty
    answer, a 500."""
    project = await make_project(client, admin, key="OPS")
    body = {
        "amount": "4.20",
        "currency": "EUR",
        "category_id": await category_id(client, tester),
        "spent_on": "2026-03-29",
        "project_id": project["id"],
    }
    h = {**auth_headers(tester), "Idempotency-Key": "k-after-422"}
    refused = await client.post(URL, json=body, headers=h)
    assert refused.status_code == 422, refused.text  # not a member yet
    again = await client.post(URL, json=body, headers=h)
    assert again.status_code == 422, again.text  # tried again, not a replay of nothing
    assert "Idempotent-Replayed" not in again.headers
    r = await client.put(
        f"/api/v1/projects/{project['id']}/members/{tester.id}", headers=auth_headers(admin)
    )
    assert r.status_code == 201, r.text
    created = await client.post(URL, json=body, headers=h)
    assert created.status_code == 201, created.text
    replayed = await client.post(URL, json=body, headers=h)
    assert replayed.status_code == 201 and replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json() == created.json()
    assert await db.scalar(select(func.count()).select_from(Expense)) == 1


async def test_a_reservation_left_without_an_answer_gives_way(client, tester, db):
    """What a failed request left behind on SQLite before the fix no longer blocks its key."""
    left = {"operation": "expenses.create", "request_fingerprint": "0" * 64, "response": ""}
    db.add(ExpenseIdempotencyKey(user_id=tester.id, key="k-left", status_code=0, **left))
    await db.commit()
    h = {**auth_headers(tester), "Idempotency-Key": "k-left"}
    body = {"amount": "1.00", "currency": "EUR", "spent_on": "2026-03-29"}
    body["category_id"] = await category_id(client, tester)
    created = await client.post(URL, json=body, headers=h)
    assert created.status_code == 201, created.text
    replayed = await client.post(URL, json=body, headers=h)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json() == created.json()
    assert await db.scalar(select(func.count()).select_from(Expense)) == 1


async def test_an_import_whose_request_failed_leaves_its_key_free(client, tester, db):
    h = {**auth_headers(tester), "Content-Type": "text/csv", "Idempotency-Key": "imp-bad"}
    bad = "spent_on,amount,currency,category\n2026-03-29,1.00,EUR,No such category\n"
    for _ in range(2):
        r = await client.post(f"{URL}/import", content=bad.encode(), headers=h)
        assert r.status_code == 422 and r.json()["code"] == "import_rejected", r.text
    assert await db.scalar(select(func.count()).select_from(Expense)) == 0


async def test_dates_do_not_move_with_the_database_or_process_time_zone(
    client, tester, connection, monkeypatch, test_database
):
    if test_database == "postgres":  # SQLite has no session time zone; the process has one
        await connection.exec_driver_sql("SET TIME ZONE 'Pacific/Kiritimati'")  # UTC+14
    monkeypatch.setenv("TZ", "Pacific/Pago_Pago")  # UTC-11
    time.tzset()
    try:
        created = await make_expense(client, tester, spent_on="2026-03-29")
        h = auth_headers(tester)
        read = (await client.get(f"{URL}/{created['id']}", headers=h)).json()
        same_day = await client.get(
            URL, params={"from": "2026-03-29", "to": "2026-03-29"}, headers=h
        )
        month = await client.get(f"{URL}/summary", params={"group_by": "month"}, headers=h)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert created["spent_on"] == read["spent_on"] == "2026-03-29"
    assert [e["id"] for e in same_day.json()["items"]] == [created["id"]]
    assert month.json()["rows"][0]["month"] == "2026-03"
