"""Every list answers `{items, next_cursor}` and pages with `limit`/`cursor` like the big ones:
a bug's attachments, an expense's receipts, my tokens, a project's members and webhooks."""

from __future__ import annotations

from typing import Any

from api.models import Role
from tests.api.attachments_helpers import PDF, PNG
from tests.api.bug_helpers import make_bug, make_project
from tests.api.expense_helpers import URL, make_expense
from tests.conftest import auth_headers


async def walk(client, user, path: str, **params: Any) -> list[list[Any]]:
    """The pages of ``path`` one item at a time, checking each page's shape and Link header."""
    pages: list[list[Any]] = []
    query: dict[str, Any] = {"limit": 1, **params}
    while True:
        r = await client.get(path, params=query, headers=auth_headers(user))
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "next_cursor"}
        pages.append(body["items"])
        if body["next_cursor"] is None:
            assert "link" not in r.headers
            return pages
        assert len(body["items"]) == 1
        assert r.headers["link"].endswith('>; rel="next"'), r.headers.get("link")
        query["cursor"] = body["next_cursor"]


def ids(pages: list[list[dict[str, Any]]], field: str = "id") -> list[Any]:
    return [item[field] for page in pages for item in page]


async def test_a_bugs_attachments_and_an_expenses_receipts_page(client, admin, developer, tester):
    await make_project(client, admin, developer, tester)
    bug = await make_bug(client, tester)
    expense = await make_expense(client, developer)
    uploaded, receipts = [], []
    for i in range(3):
        r = await client.post(
            f"/api/v1/bugs/{bug['id']}/attachments",
            files={"file": (f"shot{i}.png", PNG, "image/png")},
            headers=auth_headers(tester),
        )
        assert r.status_code == 201, r.text
        uploaded.append(r.json()["id"])
        r = await client.post(
            f"{URL}/{expense['id']}/attachments",
            files={"file": (f"r{i}.pdf", PDF, "application/pdf")},
            headers=auth_headers(developer),
        )
        assert r.status_code == 201, r.text
        receipts.append(r.json()["id"])

    pages = await walk(client, developer, f"/api/v1/bugs/{bug['key']}/attachments")
    assert ids(pages) == uploaded  # oldest first
    newest = await walk(
        client, developer, f"/api/v1/bugs/{bug['key']}/attachments", sort="-created_at"
    )
    assert ids(newest) == uploaded[::-1]
    assert ids(await walk(client, developer, f"{URL}/{expense['id']}/attachments")) == receipts


async def test_my_tokens_page_without_their_secrets(client, developer):
    made = []
    for name in ("ci", "laptop", "backup"):
        r = await client.post(
            "/api/v1/users/me/tokens", json={"name": name}, headers=auth_headers(developer)
        )
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    pages = await walk(client, developer, "/api/v1/users/me/tokens")
    assert ids(pages) == made
    assert not any("token" in item for page in pages for item in page)


async def test_a_projects_members_page_by_name(client, admin, make_user):
    people = [await make_user(Role.developer, full_name=name) for name in ("Cleo", "Ana", "Bo")]
    project = await make_project(client, admin, *people)
    pages = await walk(client, admin, f"/api/v1/projects/{project['key']}/members")
    assert [m["user"]["full_name"] for page in pages for m in page] == ["Ana", "Bo", "Cleo"]
    backwards = await walk(
        client, admin, f"/api/v1/projects/{project['key']}/members", sort="-full_name"
    )
    assert [m["user"]["full_name"] for page in backwards for m in page] == ["Cleo", "Bo", "Ana"]
    bad = await client.get(
        f"/api/v1/projects/{project['key']}/members",
        params={"sort": "email"},
        headers=auth_headers(admin),
    )
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_sort"


async def test_a_projects_webhooks_page(client, admin, settings):
    settings.webhook_allow_private_targets = True
    await make_project(client, admin)
    made = []
    for i in range(3):
        r = await client.post(
            "/api/v1/projects/WEB/webhooks",
            json={"url": f"http://127.0.0.1:9/hook{i}", "events": ["bug.created"]},
            headers=auth_headers(admin),
        )
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    pages = await walk(client, admin, "/api/v1/projects/WEB/webhooks")
    assert ids(pages) == made
    assert not any("secret" in item for page in pages for item in page)


async def test_short_computed_lists_come_whole(client, admin, developer, tester):
    await make_project(client, admin, developer, tester)
    bug = await make_bug(client, tester)
    r = await client.get(f"/api/v1/bugs/{bug['key']}/transitions", headers=auth_headers(developer))
    assert r.status_code == 200 and r.json()["next_cursor"] is None
    assert [t["to"] for t in r.json()["items"]] == ["in_progress"]
    r = await client.get("/api/v1/runtimes", headers=auth_headers(developer))
    assert r.status_code == 200 and r.json()["next_cursor"] is None
    assert [runtime["name"] for runtime in r.json()["items"]] == ["python", "python-sci"]
