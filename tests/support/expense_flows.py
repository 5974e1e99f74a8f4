"""The expense tracker's main flows against a fresh SQLite file, run as its own process so the
test can choose the server's time zone (TZ). Prints what it saw as JSON."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from api import migrations
from api.config import Settings
from api.main import create_app


async def flows(settings: Settings) -> dict[str, Any]:
    seen: dict[str, Any] = {"utc_offset_s": -time.timezone if not time.daylight else None}
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
            for email in ("a@example.com", "t@example.com"):
                r = await c.post(
                    "/auth/register",
                    json={"email": email, "password": "long-enough", "full_name": email[0]},
                )
                assert r.status_code == 201, r.text
            headers = {}
            for email in ("a@example.com", "t@example.com"):
                token = (
                    await c.post("/auth/token", data={"username": email, "password": "long-enough"})
                ).json()["access_token"]
                headers[email[0]] = {"Authorization": f"Bearer {token}"}
            admin, tester = headers["a"], headers["t"]
            project = (
                await c.post("/projects", json={"key": "WEB", "name": "Web"}, headers=admin)
            ).json()
            tester_id = (await c.get("/users/me", headers=tester)).json()["id"]
            await c.put(f"/projects/{project['id']}/members/{tester_id}", headers=admin)
            await c.put(
                f"/projects/{project['id']}/budget",
                json={
                    "amount": "0.25",
                    "currency": "EUR",
                    "period": "monthly",
                    "alert_at_percent": 100,
                },
                headers=admin,
            )
            categories = (
                await c.get("/expense-categories", params={"limit": 200}, headers=tester)
            ).json()
            meals = next(x["id"] for x in categories["items"] if x["path"] == "Meals")
            made = []
            for amount, day in (
                ("0.10", "2026-03-29"),
                ("0.20", "2026-03-31"),
                ("5", "2026-04-01"),
            ):
                r = await c.post(
                    "/expenses",
                    json={
                        "amount": amount,
                        "currency": "EUR",
                        "category_id": meals,
                        "spent_on": day,
                        "project_id": project["id"],
                    },
                    headers=tester,
                )
                assert r.status_code == 201, r.text
                made.append(r.json())
            seen["created_spent_on"] = made[0]["spent_on"]
            seen["read_spent_on"] = (
                await c.get(f"/expenses/{made[0]['id']}", headers=tester)
            ).json()["spent_on"]
            seen["march"] = [
                e["spent_on"]
                for e in (
                    await c.get(
                        "/expenses",
                        params={"from": "2026-03-29", "to": "2026-03-31"},
                        headers=tester,
                    )
                ).json()["items"]
            ]
            seen["by_month"] = (
                await c.get(
                    "/expenses/summary", params={"group_by": "month,project"}, headers=tester
                )
            ).json()["rows"]
            seen["page"] = [
                e["amount"]
                for e in (
                    await c.get("/expenses", params={"sort": "amount", "limit": 2}, headers=tester)
                ).json()["items"]
            ]
            cursor = (
                await c.get("/expenses", params={"sort": "amount", "limit": 2}, headers=tester)
            ).json()["next_cursor"]
            seen["page2"] = [
                e["amount"]
                for e in (
                    await c.get(
                        "/expenses",
                        params={"sort": "amount", "limit": 2, "cursor": cursor},
                        headers=tester,
                    )
                ).json()["items"]
            ]
            seen["export"] = (await c.get("/expenses/export.csv", headers=tester)).text.splitlines()
            csv_text = (
                "spent_on,amount,currency,category,description\n"
                "2026-03-29,0.30,EUR,Meals,=x\n"
                "2026-03-30,1.5,JPY,Meals,\n"
            )
            r = await c.post(
                "/expenses/import",
                content=csv_text.encode(),
                headers={**tester, "Content-Type": "text/csv"},
            )
            seen["bad_import"] = [(e["line"], e["column"]) for e in r.json()["report"]["errors"]]
            good = "spent_on,amount,currency,category\n2026-03-29,0.30,EUR,Meals\n"
            for _ in range(2):
                r = await c.post(
                    "/expenses/import",
                    content=good.encode(),
                    headers={**tester, "Content-Type": "text/csv"},
                )
                seen.setdefault("imports", []).append(
                    (r.json()["imported"], r.json()["duplicates"])
                )
            await c.delete(f"/expenses/{made[2]['id']}", headers=tester)
            await c.post(f"/expenses/{made[2]['id']}/restore", headers=tester)
            seen["history"] = [
                a["field"]
                for a in (await c.get(f"/expenses/{made[2]['id']}/history", headers=tester)).json()[
                    "items"
                ]
            ]
            seen["totals"] = (await c.get("/expenses/summary", headers=tester)).json()["rows"]
            seen["budget_march"] = (
                await c.get(
                    f"/projects/{project['id']}/budget", params={"month": "2026-03"}, headers=tester
                )
            ).json()
            seen["alerts"] = [
                n["title"]
                for n in (await c.get("/notifications", headers=tester)).json()["items"]
                if n["kind"] == "budget.alert"
            ]
    return seen


def main(data_dir: str) -> None:
    settings = Settings(
        data_dir=Path(data_dir), spa_dir=Path(data_dir) / "no-spa", executor_backend="off"
    )
    migrations.upgrade(settings.effective_database_url)
    print(json.dumps(asyncio.run(flows(settings))))


if __name__ == "__main__":
    main(sys.argv[1])
