"""Request and response models for expenses, categories, totals, budgets and CSV imports."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from api.models import BudgetPeriod
from api.money import DECIMAL_TEXT, MAX_AMOUNT, fits_currency, is_currency, minor_units

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_amount(value: Any) -> Decimal:
    """A positive decimal given as a string ("12.30") or an integer; never a float."""
    if isinstance(value, bool | float):
        raise ValueError('send amounts as decimal strings such as "12.30", not JSON numbers')
    text = str(value).strip() if isinstance(value, str | int | Decimal) else None
    if text is None or not DECIMAL_TEXT.match(text):
        raise ValueError("must be a decimal number with '.' as separator, such as \"12.30\"")
    amount = Decimal(text)
    if amount <= 0:
        raise ValueError("must be greater than zero")
    if amount > MAX_AMOUNT:
        raise ValueError(f"must be at most {MAX_AMOUNT}")
    return amount


def parse_currency(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError('must be an ISO 4217 currency code such as "EUR"')
    code = value.strip().upper()
    if not is_currency(code):
        raise ValueError(f"{value!r} is not an ISO 4217 currency in use")
    return code


def parse_date(value: Any) -> date:
    """Only a calendar date, YYYY-MM-DD: no timestamps, whose zone could shift the day."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not ISO_DATE.match(value):
        raise ValueError("must be a calendar date YYYY-MM-DD (no time, no time zone)")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{value} is not a date that exists") from exc


EARLIEST_SPENT_ON = date(1900, 1, 1)
PLANNED_AHEAD_DAYS = 366


def parse_spent_on(value: Any) -> date:
    """A calendar date from 1900 to a year from today: a planned expense may be dated ahead,
    but "3026-12-01" is a typo that would sit in every report and budget."""
    day = parse_date(value)
    latest = date.today() + timedelta(days=PLANNED_AHEAD_DAYS)
    if day < EARLIEST_SPENT_ON:
        raise ValueError(f"{day} is before {EARLIEST_SPENT_ON}; check the year")
    if day > latest:
        raise ValueError(f"{day} is more than a year ahead (after {latest}); check the year")
    return day


def check_amount_fits(amount: Decimal | None, currency: str | None) -> None:
    if amount is not None and currency is not None and not fits_currency(amount, currency):
        digits = minor_units(currency)
        raise ValueError(f"amount {amount} has more decimals than {currency} allows ({digits})")


Amount = Annotated[
    Decimal,
    BeforeValidator(parse_amount),
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_TEXT.pattern, "examples": ["12.30"]}),
]
Currency = Annotated[
    str,
    BeforeValidator(parse_currency),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$", "examples": ["EUR"]}),
]
CalendarDate = Annotated[
    date,
    BeforeValidator(parse_date),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["2026-03-29"]}),
]
SpentOn = Annotated[
    date,
    BeforeValidator(parse_spent_on),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["2026-03-29"]}),
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
MoneyText = Annotated[
    str, Field(description="Exact decimal with the currency's minor digits", examples=["12.30"])
]


class UserRef(BaseModel):
    id: int
    full_name: str


class ExpenseCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "amount": "42.50",
                    "currency": "EUR",
                    "category_id": 2,
                    "description": "Team lunch",
                    "spent_on": "2026-03-29",
                    "project_id": 1,
                }
            ]
        },
    )

    amount: Amount
    currency: Currency
    category_id: int
    description: Description = ""
    spent_on: SpentOn
    project_id: int | None = None

    @model_validator(mode="after")
    def _amount_fits_currency(self) -> Self:
        check_amount_fits(self.amount, self.currency)
        return self


class ExpenseUpdate(BaseModel):
    """Partial edit; an amount and currency are checked together against the stored ones."""

    model_config = ConfigDict(extra="forbid")

    amount: Amount | None = None
    currency: Currency | None = None
    category_id: int | None = None
    description: Description | None = None
    spent_on: SpentOn | None = None
    project_id: int | None = None

    @model_validator(mode="after")
    def _amount_fits_currency(self) -> Self:
        check_amount_fits(self.amount, self.currency)
        return self


class ExpenseRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 12,
                    "user": {"id": 2, "full_name": "Ada Developer"},
                    "amount": "42.50",
                    "currency": "EUR",
                    "category_id": 2,
                    "category": "Travel/Meals",
                    "description": "Team lunch",
                    "spent_on": "2026-03-29",
                    "project_id": 1,
                    "project_key": "WEB",
                    "imported": False,
                    "deleted_at": None,
                    "version": 1,
                    "created_at": "2026-03-29T13:10:00Z",
                    "updated_at": "2026-03-29T13:10:00Z",
                }
            ]
        }
    )

    id: int
    user: UserRef
    amount: MoneyText
    currency: str
    category_id: int
    category: str = Field(description="The category's path, e.g. 'Travel/Flights'")
    description: str
    spent_on: date
    project_id: int | None
    project_key: str | None
    imported: bool = Field(description="Whether the expense came from a CSV import")
    deleted_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class ExpenseActivityRead(BaseModel):
    id: int
    at: datetime
    actor: UserRef | None
    field: str
    old: str | None
    new: str | None


GroupBy = Literal["category", "month", "project", "user"]


class SummaryRow(BaseModel):
    """One total: the groups asked for (absent when not asked for), one currency."""

    category_id: int | None = None
    category: str | None = Field(default=None, description='Its path, e.g. "Travel/Flights"')
    month: str | None = Field(default=None, description="YYYY-MM")
    project_id: int | None = Field(default=None, description="null: expenses with no project")
    project_key: str | None = None
    user_id: int | None = None
    user_name: str | None = Field(default=None, description="The spender's full name")
    currency: str
    total: MoneyText
    count: int


class ExpenseSummary(BaseModel):
    group_by: list[GroupBy]
    rows: list[SummaryRow]


CategoryName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^/]+$"),
]


class CategoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: CategoryName = Field(description="Unique among its siblings; no '/'")
    parent_id: int | None = Field(default=None, description="A top-level category")


class CategoryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: CategoryName | None = None
    parent_id: int | None = None


class CategoryRead(BaseModel):
    id: int
    name: str
    parent_id: int | None
    path: str = Field(description="'Parent/Child' for children, the name for top-level ones")
    version: int
    created_at: datetime
    updated_at: datetime


class BudgetSet(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "amount": "5000.00",
                    "currency": "EUR",
                    "period": "monthly",
                    "alert_at_percent": 80,
                }
            ]
        },
    )

    amount: Amount
    currency: Currency
    period: BudgetPeriod
    alert_at_percent: int = Field(default=80, ge=1, le=1000)

    @model_validator(mode="after")
    def _amount_fits_currency(self) -> Self:
        check_amount_fits(self.amount, self.currency)
        return self


class CurrencyTotal(BaseModel):
    currency: str
    total: MoneyText
    count: int


class BudgetRead(BaseModel):
    project_id: int
    amount: MoneyText
    currency: str
    period: BudgetPeriod
    alert_at_percent: int
    period_key: str = Field(description="'total', or the month shown as YYYY-MM")
    period_start: date | None
    period_end: date | None = Field(description="Last day of the period (inclusive)")
    spent: MoneyText = Field(description="Linked expenses in the budget's currency only")
    remaining: MoneyText = Field(description="Negative when the budget is overspent")
    percent_used: MoneyText
    alerted: bool = Field(description="Whether this period's alert went out")
    not_counted: list[CurrencyTotal] = Field(
        description="Linked expenses in other currencies: never converted, never added"
    )
    version: int
    updated_at: datetime


class ImportIssue(BaseModel):
    line: int = Field(description="Line of the file, the header being line 1")
    column: str | None
    reason: str


class ImportedRow(BaseModel):
    line: int
    spent_on: date
    amount: MoneyText
    currency: str
    category: str
    description: str
    project: str | None
    duplicate: bool = Field(description="Imported before: skipped")


class ExpenseImportUpload(BaseModel):
    """The multipart form of `POST /expenses/import` (documentation only: the handler reads
    the body itself, to take a raw `text/csv` body as well)."""

    file: Annotated[bytes, WithJsonSchema({"type": "string", "format": "binary"})] = Field(
        description="The CSV file"
    )


class ImportReport(BaseModel):
    dry_run: bool
    valid: bool
    rows: int = Field(description="Data rows read")
    imported: int = Field(description="Rows imported (dry run: that would be)")
    duplicates: int = Field(description="Rows already imported before, skipped")
    errors: list[ImportIssue]
    errors_truncated: bool
    preview: list[ImportedRow] = Field(description="The first rows, as they would be stored")
