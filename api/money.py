"""Exact money: ISO 4217 currencies with their minor units, and the `Money` column type.

Amounts are `Decimal` from the request to the database and back. PostgreSQL stores them as
`NUMERIC(19, 4)`. SQLite has no exact decimal type (its NUMERIC affinity turns "0.10" into a
binary float), so there the same column holds fixed-point integers in ten-thousandths: sums stay
exact integer arithmetic in SQL and are turned back into `Decimal` on the way out.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel.core import get_global
from babel.numbers import get_currency_precision
from sqlalchemy import BigInteger, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

SCALE = 4  # decimal places stored; CLF and UYW have 4 minor digits, most currencies 2
MAX_AMOUNT = Decimal("999999999999")  # per expense or budget; keeps SQLite's int64 sums safe
_SQLITE_FACTOR = Decimal(10) ** SCALE
DECIMAL_TEXT = re.compile(r"^\d{1,15}(\.\d{1,10})?$")


@lru_cache
def active_currencies() -> frozenset[str]:
    """Codes that are legal tender somewhere today, from CLDR (babel): DEM or ZZZ are not."""
    today = (date.today().year, date.today().month, date.today().day)
    codes: set[str] = set()
    for entries in get_global("territory_currencies").values():
        for code, _start, end, tender in entries:
            if tender and (end is None or end >= today):
                codes.add(code)
    return frozenset(codes)


@lru_cache(maxsize=512)
def minor_units(currency: str) -> int:
    """Digits after the decimal point: EUR 2, JPY 0, KWD 3."""
    return int(get_currency_precision(currency))


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def is_currency(code: str) -> bool:
    return code in active_currencies()


def fits_currency(amount: Decimal, currency: str) -> bool:
    """True when the amount has no more decimals than the currency's minor unit allows."""
    return amount == amount.quantize(quantum(currency))


def format_amount(amount: Decimal, currency: str) -> str:
    """The canonical text of an amount: exactly the currency's minor digits ("12.30", "500")."""
    return str(amount.quantize(quantum(currency)))


class Money(TypeDecorator[Decimal]):
    """NUMERIC(19, 4) on PostgreSQL; fixed-point BIGINT (ten-thousandths) on SQLite."""

    impl = Numeric(19, SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(19, SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = Decimal(value)
        if dialect.name != "sqlite":
            return amount
        scaled = amount * _SQLITE_FACTOR
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{amount} has more than {SCALE} decimal places")
        return int(scaled)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)) / _SQLITE_FACTOR
        return Decimal(value)
