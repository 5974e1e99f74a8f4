"""Bug lists: filters, full-text search, sorting, keyset pagination, query counts and plans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, text

from api.models import Bug, BugLabel, Comment
from tests.api.bug_helpers import make_bug, make_project
from tests.conftest import auth_headers


@pytest.fixture
async def project(client, admin, developer, tester):
    return await make_project(client, admin, developer, tester)


async def keys(client, user, url="/api/v1/bugs", **params) -> list[str]:
    r = await client.get(url, params=params, headers=auth_headers(user))
    assert r.status_code == 200, r.text
    return [b["key"] for b in r.json()["items"]]


async def test_filters(client, project, tester, developer, db):
    await make_bug(
        client, tester, project, title="a", priority="high", severity="major", labels=["ui"]
    )
    await make_bug(client, developer, project, title="b", priority="low", assignee_id=developer.id)
    third = await make_bug(
        client, tester, project, title="c", labels=["api", "ui"], severity="blocker"
    )
    closed = await db.get(Bug, third["id"])
    assert closed is not None
    closed.status = "closed"
    await db.commit()
    assert set(await keys(client, tester, status="open")) == {"WEB-1", "WEB-2"}
    assert set(await keys(client, tester, status=["open", "closed"])) == {"WEB-1", "WEB-2", "WEB-3"}
    assert await keys(client, developer, assignee_id="me") == ["WEB-2"]
    assert set(await keys(client, tester, assignee_id="none")) == {"WEB-1", "WEB-3"}
    assert await keys(client, tester, assignee_id=str(developer.id)) == ["WEB-2"]
    assert set(await keys(client, tester, reporter_id="me")) == {"WEB-1", "WEB-3"}
    assert await keys(client, tester, priority="high") == ["WEB-1"]
    assert await keys(client, tester, severity="blocker") == ["WEB-3"]
    assert set(await keys(client, tester, label="UI")) == {"WEB-1", "WEB-3"}
    assert await keys(client, tester, url="/api/v1/projects/WEB/bugs", label="api") == ["WEB-3"]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await keys(client, tester, created_after=future) == []
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert len(await keys(client, tester, updated_after=past)) == 3
    # a date, or a time without a zone, means UTC (both were 500s: naive times are not stored)
    today = datetime.now(UTC).date()
    assert len(await keys(client, tester, created_after=today.isoformat())) == 3
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert await keys(client, tester, updated_after=tomorrow) == []
    naive_past = (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None).isoformat()
    assert len(await keys(client, tester, created_after=naive_past)) == 3


@pytest.mark.parametrize(
    "params",
    [
        {"assignee_id": "someone"},
        {"reporter_id": "none"},
        {"sort": "title"},
        {"status": "done"},
        {"priority": "urgent"},
    ],
)
async def test_bad_filters_are_rejected(client, project, tester, params):
    r = await client.get("/api/v1/bugs", params=params, headers=auth_headers(tester))
    assert r.status_code in (400, 422)
    assert r.json()["code"] in ("invalid_filter", "invalid_sort", "validation_error")


@pytest.mark.postgres_only(
    reason="stemmed full-text search (tsvector): SQLite matches words as they are written"
)
async def test_full_text_search_covers_title_description_and_comments(
    client, project, tester, developer
):
    await make_bug(client, tester, project, title="Crash when saving invoices")
    await make_bug(
        client, tester, project, title="Slow page", description="The dashboard **renders** slowly"
    )
    third = await make_bug(client, tester, project, title="Misc")
    await client.post(
        f"/api/v1/bugs/{third['id']}/comments",
        json={"body": "Segfault in the exporter"},
        headers=auth_headers(developer),
    )
    assert await keys(client, tester, q="crashes") == ["WEB-1"]  # stemmed: crashes ~ crash
    assert await keys(client, tester, q="rendering") == ["WEB-2"]
    assert await keys(client, tester, q="segfault") == ["WEB-3"]
    assert await keys(client, tester, q="'; DROP TABLE bug; --") == []
    assert await keys(client, tester, q="nothing-matches-this") == []


async def test_sorting_by_priority_both_ways(client, project, tester):
    for p in ("low", "highest", "medium"):
        await make_bug(client, tester, project, priority=p)
    assert await keys(client, tester, sort="-priority") == ["WEB-2", "WEB-3", "WEB-1"]
    assert await keys(client, tester, sort="priority") == ["WEB-1", "WEB-3", "WEB-2"]
    assert await keys(client, tester, sort="created_at") == ["WEB-1", "WEB-2", "WEB-3"]


async def test_pagination_has_no_gaps_or_duplicates_while_bugs_are_filed(client, project, tester):
    for _ in range(5):
        await make_bug(client, tester, project)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, "sort": "created_at"} | ({"cursor": cursor} if cursor else {})
        r = (await client.get("/api/v1/bugs", params=params, headers=auth_headers(tester))).json()
        seen += [b["key"] for b in r["items"]]
        await make_bug(client, tester, project)  # a new bug lands between pages
        cursor = r["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen))
    assert seen[:5] == ["WEB-1", "WEB-2", "WEB-3", "WEB-4", "WEB-5"]
    assert seen == sorted(seen, key=lambda k: int(k.split("-")[1]))


async def _seed(db, project_id: int, reporter_id: int, assignee_id: int, n: int) -> None:
    now = datetime.now(UTC)
    bugs = [
        Bug(
            project_id=project_id,
            number=i + 1,
            title=f"bug {i}",
            reporter_id=reporter_id,
            assignee_id=assignee_id,
            priority=1 + i % 5,
            created_at=now,
            updated_at=now,
        )
        for i in range(n)
    ]
    db.add_all(bugs)
    await db.flush()
    db.add_all(BugLabel(bug_id=b.id, label=f"l{j}") for b in bugs for j in range(2))
    db.add_all(Comment(bug_id=b.id, author_id=reporter_id, body="lorem ipsum") for b in bugs[:50])
    await db.commit()


async def test_listing_200_bugs_takes_a_bounded_number_of_queries(
    client, project, tester, developer, db, engine
):
    await _seed(db, project["id"], tester.id, developer.id, 200)
    statements: list[str] = []

    def count(*args):
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        r = await client.get("/api/v1/bugs", params={"limit": 200}, headers=auth_headers(tester))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert r.status_code == 200
    assert len(r.json()["items"]) == 200
    assert all(
        b["assignee"]["id"] == developer.id and len(b["labels"]) == 2 for b in r.json()["items"]
    )
    assert len(statements) <= 10, statements


FILTER_SQL = {
    "status": "status = 'open'",
    "assignee_id": "assignee_id = 1",
    "reporter_id": "reporter_id = 1",
    "priority": "priority = 3",
    "severity": "severity = 'major'",
    "created_after": "created_at > now()",
    "updated_after": "updated_at > now()",
    "label": "id IN (SELECT bug_id FROM bug_label WHERE label = 'ui')",
    "q": "search_vector @@ websearch_to_tsquery('english', 'crash')",
}


@pytest.mark.parametrize("name", list(FILTER_SQL))
async def test_every_filter_has_an_index_the_planner_uses(db, name):
    """With sequential scans priced out, a filter without a usable index still seq-scans `bug`."""
    await db.execute(text("SET LOCAL enable_seqscan = off"))
    sql = text("EXPLAIN SELECT id FROM bug WHERE " + FILTER_SQL[name])  # noqa: S608 - constants
    plan = "\n".join(row[0] for row in await db.execute(sql))
    assert "Seq Scan on bug " not in plan + " ", plan
    assert "Index" in plan or "Bitmap" in plan, plan


async def test_search_follows_comment_edits_and_deletions(client, project, tester, developer):
    bug = await make_bug(client, tester, project, title="Misc")
    c = (
        await client.post(
            f"/api/v1/bugs/{bug['id']}/comments",
            json={"body": "Deadlock in scheduler"},
            headers=auth_headers(developer),
        )
    ).json()
    assert await keys(client, tester, q="deadlock") == ["WEB-1"]
    await client.patch(
        f"/api/v1/comments/{c['id']}",
        json={"body": "Livelock actually"},
        headers=auth_headers(developer),
    )
    assert await keys(client, tester, q="deadlock") == []
    assert await keys(client, tester, q="livelock") == ["WEB-1"]
    await client.delete(f"/api/v1/comments/{c['id']}", headers=auth_headers(developer))
    assert await keys(client, tester, q="livelock") == []


@pytest.mark.postgres_only(reason="inspects PostgreSQL's query plans for prepared statements")
async def test_search_is_planned_for_its_own_words_every_time(client, project, tester, db):
    """A prepared statement gets five plans made for its parameters, then PostgreSQL may settle
    on one generic plan that knows nothing of the words searched for: for a rare word that plan
    walked the whole updated_at index (at 10k bugs: 3-4 ms -> 23-38 ms per search). Searches
    must keep getting custom plans, however often the same statement runs on a connection."""
    for i in range(3):
        await make_bug(client, tester, project, title=f"Kernel panic {i}")
    for _ in range(8):
        assert len(await keys(client, tester, q="panic")) == 3
        assert await keys(client, tester, q="unheardof") == []
    plans = (
        await db.execute(
            text(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                "WHERE statement LIKE '%websearch_to_tsquery%' "
                "AND cardinality(parameter_types) > 0"  # without parameters all plans are generic
            )
        )
    ).all()
    assert plans, "the search ran as a prepared statement on this connection"
    assert sum(p.generic_plans for p in plans) == 0, plans
    assert sum(p.custom_plans for p in plans) >= 16, plans


async def test_searching_a_bug_key_finds_that_bug(client, project, tester, admin):
    """Searching `WEB-2` (any case) finds bug WEB-2, also on the project's list, besides any
    bug whose text mentions it; a key of a project the caller cannot see finds nothing."""
    await make_bug(client, tester, project, title="first")
    await make_bug(client, tester, project, title="second")
    await make_bug(client, tester, project, title="broken since WEB-2 landed")
    assert await keys(client, tester, q="WEB-2") in (["WEB-3", "WEB-2"], ["WEB-2", "WEB-3"])
    assert await keys(client, tester, q="web-1") == ["WEB-1"]
    assert await keys(client, tester, url="/api/v1/projects/WEB/bugs", q="WEB-1") == ["WEB-1"]
    assert await keys(client, tester, q="WEB-99") == []
    await make_project(client, admin, key="OPS")
    await make_bug(client, admin, "OPS", title="private")
    assert await keys(client, admin, q="OPS-1") == ["OPS-1"]
    assert await keys(client, tester, q="OPS-1") == []
