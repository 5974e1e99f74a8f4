"""Pagination cursors are base64 JSON a client can edit: any edited one is a 400, never a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.api.bug_helpers import make_bug, make_project
from tests.api.expense_helpers import make_expense
from tests.conftest import auth_headers


def cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


DAY = {"d": "2026-03-29"}
NOW = {"dt": "2026-03-29T10:00:00+00:00"}
EDITED = [
    # (list, its sort, an edited cursor): wrong types, out of range, naive times, not numbers
    ("/api/v1/bugs", "-priority", cursor(4, 99999999999999999999999)),
    ("/api/v1/bugs", "-priority", cursor(4, 2**31)),  # beyond the int4 id column
    ("/api/v1/bugs", "-priority", cursor(70000, 1)),  # beyond the smallint priority
    ("/api/v1/bugs", "-priority", cursor(True, 1)),
    ("/api/v1/bugs", "-updated_at", cursor("x", "y")),
    ("/api/v1/bugs", "-updated_at", cursor(None, None)),
    ("/api/v1/bugs", "-updated_at", cursor({"dt": "2026-03-29T10:00:00"}, 1)),  # naive
    ("/api/v1/bugs", "-updated_at", cursor(NOW, "x")),
    ("/api/v1/expenses", "-spent_on", cursor("2026-03-29", 16)),
    ("/api/v1/expenses", "-spent_on", cursor({"x": 1}, 16)),
    ("/api/v1/expenses", "-spent_on", cursor(DAY, "x")),
    ("/api/v1/expenses", "-spent_on", cursor(DAY, None)),
    ("/api/v1/expenses", "amount", cursor("x", 16)),
    ("/api/v1/expenses", "amount", cursor({"dec": "NaN"}, 16)),
    ("/api/v1/jobs", "status", cursor("queued", 5)),
]


@pytest.mark.parametrize(("path", "sort", "edited"), EDITED)
async def test_an_edited_cursor_is_invalid_cursor(client, developer, path, sort, edited):
    r = await client.get(
        path, params={"sort": sort, "cursor": edited}, headers=auth_headers(developer)
    )
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_cursor"


async def test_cursors_the_api_wrote_still_page_through(client, admin, developer, tester):
    await make_project(client, admin, developer, tester)
    for i in range(3):
        await make_bug(client, tester, title=f"bug {i}", priority=["low", "high", "medium"][i])
        await make_expense(client, developer, amount=f"{i + 1}.50")
    for path, sort, user in (
        ("/api/v1/bugs", "-priority", tester),
        ("/api/v1/bugs", "-updated_at", tester),
        ("/api/v1/expenses", "-spent_on", developer),
        ("/api/v1/expenses", "amount", developer),
        ("/api/v1/jobs", "status", developer),
    ):
        seen, params = [], {"sort": sort, "limit": 1}
        while True:
            page = await client.get(path, params=params, headers=auth_headers(user))
            assert page.status_code == 200, (path, sort, page.text)
            seen += [item["id"] for item in page.json()["items"]]
            if not page.json()["next_cursor"]:
                break
            params["cursor"] = page.json()["next_cursor"]
        assert len(seen) == len(set(seen)) == (0 if path.endswith("jobs") else 3), (path, sort)
