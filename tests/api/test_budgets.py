"""Project budgets: spent and remaining in the budget's currency, alerts once per period."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api.db import utcnow
from api.models import Notification
from tests.api.bug_helpers import make_project
from tests.api.expense_helpers import URL, make_expense
from tests.conftest import auth_headers


@pytest.fixture
async def project(client, admin, developer, tester):
    return await make_project(client, admin, developer, tester)


def budget_url(project) -> str:
    return f"/api/v1/projects/{project['id']}/budget"


async def set_budget(client, admin, project, **fields):
    body = {"amount": "100.00", "currency": "EUR", "period": "total", "alert_at_percent": 80}
    r = await client.put(budget_url(project), json={**body, **fields}, headers=auth_headers(admin))
    assert r.status_code in (200, 201), r.text
    return r


async def alerts(db, user) -> list[str]:
    rows = await db.scalars(
        select(Notification.title).where(
            Notification.user_id == user.id, Notification.kind == "budget.alert"
        )
    )
    return list(rows)


async def test_spent_and_remaining_count_only_the_budget_currency(client, admin, tester, project):
    created = await set_budget(client, admin, project)
    assert created.status_code == 201
    await make_expense(client, tester, amount="30.10", project_id=project["id"])
    await make_expense(client, tester, amount="5.00", currency="USD", project_id=project["id"])
    await make_expense(client, tester, amount="99.00")  # no project
    r = await client.get(budget_url(project), headers=auth_headers(tester))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["spent"], body["remaining"], body["percent_used"]) == ("30.10", "69.90", "30.1")
    assert body["not_counted"] == [{"currency": "USD", "total": "5.00", "count": 1}]
    assert body["period_key"] == "total" and body["alerted"] is False


async def test_the_alert_goes_out_once_when_spending_crosses_the_threshold(
    client, db, admin, developer, tester, project
):
    await set_budget(client, admin, project)
    await make_expense(client, tester, amount="79.99", project_id=project["id"])
    assert await alerts(db, developer) == []
    await make_expense(client, tester, amount="0.01", project_id=project["id"])
    for user in (developer, tester, admin):  # members, and the admin who set the budget
        assert await alerts(db, user) == [
            "WEB has spent 80.0% of its budget in total: 80.00 of 100.00 EUR"
        ]
    await make_expense(client, tester, amount="50.00", project_id=project["id"])
    assert len(await alerts(db, developer)) == 1
    assert (await client.get(budget_url(project), headers=auth_headers(tester))).json()[
        "alerted"
    ] is True


async def test_monthly_budgets_alert_once_in_each_month(
    client, db, admin, developer, tester, project
):
    await set_budget(client, admin, project, period="monthly", alert_at_percent=50)
    for day in ("2026-03-01", "2026-03-31", "2026-04-01"):
        await make_expense(client, tester, amount="30.00", spent_on=day, project_id=project["id"])
    assert [t.split(": ")[0] for t in await alerts(db, developer)] == [
        "WEB has spent 60.0% of its budget in 2026-03"
    ]
    await make_expense(
        client, tester, amount="20.00", spent_on="2026-04-15", project_id=project["id"]
    )
    assert len(await alerts(db, developer)) == 2
    march = await client.get(
        budget_url(project), params={"month": "2026-03"}, headers=auth_headers(tester)
    )
    assert (march.json()["spent"], march.json()["period_start"], march.json()["period_end"]) == (
        "60.00",
        "2026-03-01",
        "2026-03-31",
    )
    now = await client.get(budget_url(project), headers=auth_headers(tester))
    assert now.json()["period_key"] == f"{utcnow():%Y-%m}"
    bad = await client.get(
        budget_url(project), params={"month": "March"}, headers=auth_headers(tester)
    )
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_period")


async def test_deleting_and_restoring_counts_and_changing_the_budget_rearms(
    client, db, admin, developer, tester, project
):
    await set_budget(client, admin, project)
    expense = await make_expense(client, tester, amount="90.00", project_id=project["id"])
    assert len(await alerts(db, developer)) == 1
    await client.delete(f"{URL}/{expense['id']}", headers=auth_headers(tester))
    assert (await client.get(budget_url(project), headers=auth_headers(tester))).json()[
        "spent"
    ] == "0.00"
    r = await set_budget(client, admin, project, amount="50.00")
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["alerted"] is False
    await client.post(f"{URL}/{expense['id']}/restore", headers=auth_headers(tester))
    assert len(await alerts(db, developer)) == 2


async def test_budgets_are_for_members_and_set_by_admins(
    client, admin, developer, make_user, project
):
    outsider = await make_user()
    await set_budget(client, admin, project)
    assert (
        await client.get(budget_url(project), headers=auth_headers(outsider))
    ).status_code == 404
    r = await client.put(
        budget_url(project),
        json={"amount": "1.00", "currency": "EUR", "period": "total"},
        headers=auth_headers(developer),
    )
    assert r.status_code == 403
    r = await client.put(
        budget_url(project),
        json={"amount": "1.001", "currency": "EUR", "period": "total"},
        headers=auth_headers(admin),
    )
    assert r.status_code == 422
    stale = await client.put(
        budget_url(project),
        json={"amount": "1.00", "currency": "EUR", "period": "weekly"},
        headers=auth_headers(admin),
    )
    assert stale.status_code == 422
    r = await client.delete(budget_url(project), headers={**auth_headers(admin), "If-Match": '"7"'})
    assert r.status_code == 412
    assert (
        await client.delete(budget_url(project), headers=auth_headers(admin))
    ).status_code == 204
    r = await client.get(budget_url(project), headers=auth_headers(developer))
    assert (r.status_code, r.json()["code"]) == (404, "budget_not_found")
