"""Small async factories for expense tests."""

from __future__ import annotations

from typing import Any

from tests.conftest import auth_headers

URL = "/api/v1/expenses"


async def category_id(client, user, path: str = "Meals") -> int:
    r = await client.get(
        "/api/v1/expense-categories", params={"limit": 200}, headers=auth_headers(user)
    )
    assert r.status_code == 200, r.text
    return next(c["id"] for c in r.json()["items"] if c["path"] == path)


async def make_expense(client, user, **fields: Any) -> dict[str, Any]:
    body = {
        "amount": "12.30",
        "currency": "EUR",
        "description": "Lunch",
        "spent_on": "2026-03-29",
        **fields,
    }
    if "category_id" not in body:
        body["category_id"] = await category_id(client, user)
    r = await client.post(URL, json=body, headers=auth_headers(user))
    assert r.status_code == 201, r.text
    return r.json()


async def csv_import(client, user, text: str | bytes, **params: Any):
    content = text.encode() if isinstance(text, str) else text
    return await client.post(
        f"{URL}/import",
        content=content,
        params=params,
        headers={**auth_headers(user), "Content-Type": "text/csv"},
    )
