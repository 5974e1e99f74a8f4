"""List pages written by orjson hold the same JSON pydantic would write, whatever the values."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum

import pydantic_core
from starlette.requests import Request

from api.pagination import page_response


class Colour(StrEnum):
    red = "red"


def test_values_orjson_does_not_know_are_written_as_pydantic_writes_them():
    item = {
        "amount": Decimal("12.50"),
        "id": uuid.UUID(int=7),
        "at": datetime(2026, 3, 29, 10, 0, 0, 123000, tzinfo=UTC),
        "day": date(2026, 3, 29),
        "colour": Colour.red,
        "labels": frozenset(),
    }
    request = Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/x",
            "query_string": b"",
            "headers": [],
            "server": ("t", 80),
            "scheme": "http",
        }
    )
    body = page_response(request, [item], None).body
    expected = pydantic_core.to_json({"items": [item], "next_cursor": None})
    assert json.loads(body) == json.loads(expected)
    assert b'"12.50"' in body and b'"2026-03-29T10:00:00.123000Z"' in body
