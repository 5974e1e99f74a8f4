"""Expenses on the embedded SQLite default, with the server in far-apart time zones: a date
stays the date it was given, totals stay exact, and every main flow works."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("tz", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_sqlite_flows_in_any_server_time_zone(tmp_path, tz):
    env = {**os.environ, "TZ": tz, "PYTHONPATH": ROOT}
    env = {k: v for k, v in env.items() if not k.startswith("NIMBUS_")}
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.expense_flows", str(tmp_path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    expected_offset = {"UTC": 0, "Pacific/Kiritimati": 14 * 3600, "Pacific/Pago_Pago": -11 * 3600}
    assert seen["utc_offset_s"] == expected_offset[tz]  # the zone really was in force
    assert seen["created_spent_on"] == seen["read_spent_on"] == "2026-03-29"
    assert seen["march"] == ["2026-03-31", "2026-03-29"]
    project = {"project_id": 1, "project_key": "WEB", "currency": "EUR"}
    assert seen["by_month"] == [
        {"month": "2026-03", **project, "total": "0.30", "count": 2},
        {"month": "2026-04", **project, "total": "5.00", "count": 1},
    ]
    assert (seen["page"], seen["page2"]) == (["0.10", "0.20"], ["5.00"])
    assert [line.split(",")[1:4] for line in seen["export"][1:]] == [
        ["2026-03-29", "0.10", "EUR"],
        ["2026-03-31", "0.20", "EUR"],
        ["2026-04-01", "5.00", "EUR"],
    ]
    assert seen["bad_import"] == [[2, "description"], [3, "amount"]]
    assert seen["imports"] == [[1, 0], [0, 1]]
    assert seen["history"] == ["created", "deleted", "restored"]
    assert seen["totals"] == [{"currency": "EUR", "total": "5.60", "count": 4}]
    march = seen["budget_march"]
    assert (march["spent"], march["remaining"], march["alerted"]) == ("0.30", "-0.05", True)
    assert len(seen["alerts"]) == 2  # March and April, once each
