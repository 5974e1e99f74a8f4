"""CSV export (streamed, exact, formula-safe) and import (all or nothing, bounded, no repeats)."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select

from api.db import utcnow
from api.models import Expense
from tests.api.bug_helpers import make_project
from tests.api.expense_helpers import URL, category_id, csv_import, make_expense
from tests.conftest import auth_headers

HEADER = "spent_on,amount,currency,category,description,project\n"


async def count(db) -> int:
    return await db.scalar(select(func.count()).select_from(Expense))


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# ----- export ------------------------------------------------------------------------------


async def test_export_is_exact_and_formula_safe(client, tester):
    await make_expense(client, tester, amount="0.10", description='=HYPERLINK("http://x")')
    await make_expense(client, tester, amount="1000", currency="JPY", description="-5% off")
    await make_expense(client, tester, amount="0.125", currency="KWD", description='say "hi", ok')
    r = await client.get(f"{URL}/export.csv", params={"sort": "x"}, headers=auth_headers(tester))
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert (
        r.text.splitlines()[0]
        == "id,spent_on,amount,currency,category,description,project,user,created_at"
    )
    rows = rows_of(r.text)
    assert [(x["amount"], x["currency"]) for x in rows] == [
        ("0.10", "EUR"),
        ("1000", "JPY"),
        ("0.125", "KWD"),
    ]
    assert [x["description"] for x in rows] == [
        '\'=HYPERLINK("http://x")',
        "'-5% off",
        'say "hi", ok',
    ]
    assert {x["spent_on"] for x in rows} == {"2026-03-29"}


async def test_export_applies_the_filters_and_streams_every_row(client, tester, db):
    meals = await category_id(client, tester)
    now = utcnow()
    await db.execute(
        insert(Expense),
        [
            {
                "user_id": tester.id,
                "category_id": meals,
                "amount": Decimal(f"{n}.01"),
                "currency": "EUR",
                "description": f"row {n}",
                "spent_on": date(2026, 1 + n % 3, 10 + n % 10),
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for n in range(2500)
        ],
    )
    await db.commit()
    h = auth_headers(tester)
    everything = rows_of((await client.get(f"{URL}/export.csv", headers=h)).text)
    assert len(everything) == 2500 and len({r["id"] for r in everything}) == 2500
    assert [r["spent_on"] for r in everything] == sorted(r["spent_on"] for r in everything)
    february = rows_of(
        (
            await client.get(
                f"{URL}/export.csv", params={"from": "2026-02-01", "to": "2026-02-28"}, headers=h
            )
        ).text
    )
    assert len(february) == 833 and {r["spent_on"][:7] for r in february} == {"2026-02"}


# ----- import ------------------------------------------------------------------------------


GOOD = (
    HEADER
    + "2026-03-29,0.10,EUR,Meals,Coffee,\n"
    + "2026-03-29,0.20,eur,travel / flights,Flight,\n"
    + "2026-03-29,0.10,EUR,Meals,Coffee,\n"  # a second coffee: kept
    + "\n"
    + '2026-03-30,1500,JPY,Flights,"Ramen,\nwith a note",\n'
)


async def test_a_dry_run_previews_and_changes_nothing(client, tester, db):
    r = await csv_import(client, tester, GOOD, dry_run="true")
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["dry_run"], report["valid"], report["rows"], report["imported"]) == (
        True,
        True,
        4,
        4,
    )
    assert [(p["line"], p["amount"], p["category"]) for p in report["preview"]] == [
        (2, "0.10", "Meals"),
        (3, "0.20", "Travel/Flights"),
        (4, "0.10", "Meals"),
        (6, "1500", "Travel/Flights"),
    ]
    assert await count(db) == 0


async def test_importing_the_same_file_twice_adds_nothing_the_second_time(client, tester, db):
    first = (await csv_import(client, tester, GOOD)).json()
    assert (first["imported"], first["duplicates"]) == (4, 0)
    again = (await csv_import(client, tester, GOOD)).json()
    assert (again["imported"], again["duplicates"]) == (0, 4)
    longer = (await csv_import(client, tester, GOOD + "2026-03-31,3.00,EUR,Meals,,\n")).json()
    assert (longer["imported"], longer["duplicates"]) == (1, 4)
    assert await count(db) == 5
    summary = (await client.get(f"{URL}/summary", headers=auth_headers(tester))).json()["rows"]
    assert summary == [
        {"currency": "EUR", "total": "3.40", "count": 4},
        {"currency": "JPY", "total": "1500", "count": 1},
    ]
    expense = (await client.get(URL, params={"q": "Ramen"}, headers=auth_headers(tester))).json()[
        "items"
    ][0]
    assert expense["description"] == "Ramen,\nwith a note" and expense["imported"] is True
    history = (
        await client.get(f"{URL}/{expense['id']}/history", headers=auth_headers(tester))
    ).json()
    assert history["items"][0]["new"] == "imported from CSV"


async def test_an_export_imports_back_unchanged(client, admin, tester, db):
    project = await make_project(client, admin, tester)
    await make_expense(client, tester, amount="12.30", description="=1+2", project_id=project["id"])
    await make_expense(client, tester, amount="7", currency="JPY", description="@home")
    exported = (await client.get(f"{URL}/export.csv", headers=auth_headers(tester))).text
    r = await csv_import(client, admin, exported)
    assert r.status_code == 200, r.text
    theirs = (
        await client.get(
            URL, params={"user_id": admin.id, "sort": "amount"}, headers=auth_headers(admin)
        )
    ).json()["items"]
    assert [(e["amount"], e["currency"], e["description"], e["project_key"]) for e in theirs] == [
        ("7", "JPY", "@home", None),
        ("12.30", "EUR", "=1+2", "WEB"),
    ]


async def test_texts_that_start_with_quotes_survive_export_and_import(client, admin, tester):
    """The import takes one quote off an escaped formula; the export adds one to text that
    already starts with quotes before a formula character, so nothing changes on the way."""
    texts = ["'=x", "''-5", "'90s party", "=sum", "plain"]
    for text in texts:
        await make_expense(client, tester, description=text)
    exported = (await client.get(f"{URL}/export.csv", headers=auth_headers(tester))).text
    assert (await csv_import(client, admin, exported)).status_code == 200
    theirs = (
        await client.get(URL, params={"user_id": admin.id}, headers=auth_headers(admin))
    ).json()["items"]
    assert sorted(e["description"] for e in theirs) == sorted(texts)


async def test_re_importing_your_own_export_adds_nothing(client, tester, db):
    """Expenses typed in the app carry no import fingerprint; their export's `id` column still
    says they are there. A row whose id is yours but whose amount changed is a new expense;
    another user importing the same file gets every row (`test_an_export_imports_back...`)."""
    await make_expense(client, tester, amount="12.30")
    await make_expense(client, tester, amount="7", currency="JPY", description="=1+2")
    exported = (await client.get(f"{URL}/export.csv", headers=auth_headers(tester))).text
    again = (await csv_import(client, tester, exported)).json()
    assert (again["imported"], again["duplicates"]) == (0, 2)
    assert await count(db) == 2
    edited = exported.replace(",12.30,", ",12.40,")
    assert edited != exported
    r = (await csv_import(client, tester, edited)).json()
    assert (r["imported"], r["duplicates"]) == (1, 1)
    for foreign_id in ("99999999999", "2147483648", "0007"):  # not ours: ignored, not an error
        header, *_ = exported.splitlines()
        line = f"{foreign_id},2026-03-29,1.00,EUR,Meals,bank,,x,\n"
        r = await csv_import(client, tester, header + "\n" + line, dry_run="true")
        assert r.status_code == 200 and r.json()["imported"] == 1, r.text
    deleted = rows_of(exported)[1]["id"]
    gone = await client.delete(f"{URL}/{deleted}", headers=auth_headers(tester))
    assert gone.status_code == 204
    r = (await csv_import(client, tester, exported)).json()  # a deleted one comes back
    assert (r["imported"], r["duplicates"]) == (1, 1)


async def test_every_bad_row_is_reported_and_nothing_is_imported(client, tester, db):
    text = (
        HEADER
        + "2026-03-29,10.00,EUR,Meals,fine,\n"  # 2
        + "2026-02-30,10.00,EUR,Meals,,\n"  # 3 impossible date
        + "2026-03-29,-1,EUR,Meals,,\n"  # 4 negative
        + "2026-03-29,1.234,EUR,Meals,,\n"  # 5 too many decimals
        + "2026-03-29,1.00,XYZ,Meals,,\n"  # 6 unknown currency
        + "2026-03-29,1.00,EUR,Nope,,\n"  # 7 unknown category
        + "2026-03-29,1.00,EUR,Meals,=cmd|' /C calc'!A0,\n"  # 8 formula
        + "2026-03-29,1.00,EUR,Meals,,NOPE\n"  # 9 unknown project
        + "2026-03-29,1.00,EUR\n"  # 10 too few fields
        + "29/03/2026,1,00,EUR,Meals,,\n"  # 11 too many fields
        + "2026-03-29,1.00,EUR,Meals,fine too,\n"  # 12
        + "3026-03-29,1.00,EUR,Meals,,\n"  # 13 a typo for 2026
    )
    r = await csv_import(client, tester, text)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "import_rejected"
    errors = [(e["line"], e["column"]) for e in problem["report"]["errors"]]
    assert errors == [
        (3, "spent_on"),
        (4, "amount"),
        (5, "amount"),
        (6, "currency"),
        (7, "category"),
        (8, "description"),
        (9, "project"),
        (10, None),
        (11, None),
        (13, "spent_on"),
    ]
    assert problem["report"]["imported"] == 0
    assert await count(db) == 0
    preview = await csv_import(client, tester, text, dry_run="true")
    assert preview.status_code == 200 and preview.json()["valid"] is False
    assert len(preview.json()["errors"]) == len(errors)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "empty"),
        (b"date,amount,currency,category\n2026-03-29,1,EUR,Meals\n", "missing spent_on"),
        (b"spent_on,amount,currency,category,colour\n", "unknown 'colour'"),
        (b"spent_on,amount,amount,currency,category\n", "repeated amount"),
        (
            HEADER.encode() + "2026-03-29,1.00,EUR,Meals,Café,\n".encode("latin-1"),
            "Line 2 is not UTF-8",
        ),
        (HEADER.encode() + b'2026-03-29,1.00,EUR,Meals,"unclosed\n', "Line 2 is not valid CSV"),
    ],
)
async def test_unreadable_files_are_422_with_a_reason(client, tester, db, content, why):
    r = await csv_import(client, tester, content)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_csv"
    assert why in r.json()["detail"]
    assert await count(db) == 0


async def test_a_utf8_bom_and_crlf_line_ends_are_fine(client, tester):
    text = "\ufeff" + HEADER.replace("\n", "\r\n") + "2026-03-29,1.00,EUR,Meals,Café,\r\n"
    r = await csv_import(client, tester, text.encode("utf-8"))
    assert r.status_code == 200, r.text
    assert r.json()["preview"][0]["description"] == "Café"


async def test_uploads_over_the_limits_are_413(client, app, tester, db):
    app.state.settings.expense_import_max_rows = 3
    rows = "".join(f"2026-03-{d:02d},1.00,EUR,Meals,,\n" for d in range(1, 5))
    r = await csv_import(client, tester, HEADER + rows)
    assert (r.status_code, r.json()["code"]) == (413, "import_too_large")
    app.state.settings.expense_import_max_bytes = 100
    r = await csv_import(client, tester, HEADER + rows)
    assert r.status_code == 413
    assert await count(db) == 0


async def test_a_multipart_upload_works_too(client, tester, db):
    r = await client.post(
        f"{URL}/import",
        files={"file": ("expenses.csv", GOOD.encode(), "text/csv")},
        headers=auth_headers(tester),
    )
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 4 and await count(db) == 4
    r = await client.post(
        f"{URL}/import", files={"other": ("x.csv", b"x", "text/csv")}, headers=auth_headers(tester)
    )
    assert r.status_code == 422


async def test_an_import_retried_with_its_idempotency_key_is_replayed(client, tester, db):
    h = {**auth_headers(tester), "Content-Type": "text/csv", "Idempotency-Key": "imp-1"}
    first = await client.post(f"{URL}/import", content=GOOD.encode(), headers=h)
    again = await client.post(f"{URL}/import", content=GOOD.encode(), headers=h)
    assert again.json() == first.json() and again.json()["imported"] == 4
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await client.post(f"{URL}/import", content=(GOOD + "\n").encode() + b"x", headers=h)
    assert other.status_code == 409
    assert await count(db) == 4


def numbered_rows(count: int, label: str = "row") -> list[str]:
    return [
        f"2026-{1 + n % 12:02d}-{1 + n % 28:02d},{n % 500 + 1}.{n % 100:02d},"
        f"EUR,Meals,{label} {n},\n"
        for n in range(count)
    ]


async def test_a_100k_row_file_is_bounded_in_memory_and_all_or_nothing(client, tester, db):
    content = "".join(
        [HEADER, *numbered_rows(99_999), "2026-03-29,oops,EUR,Meals,the last row is bad,\n"]
    ).encode()
    tracemalloc.start()
    try:
        r = await csv_import(client, tester, content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status_code == 422, r.text
    report = r.json()["report"]
    assert report["rows"] == 100_000
    assert [(e["line"], e["column"]) for e in report["errors"]] == [(100_001, "amount")]
    assert await count(db) == 0
    # The ~5 MB file is spooled; the import holds one batch and the per-row fingerprints.
    assert peak < 48 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
