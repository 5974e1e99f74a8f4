"""Expenses, their totals, history, CSV export and import; categories; project budgets.

Receipts (`GET/POST /expenses/{expense_id}/attachments`) belong to the attachments package,
which is being built separately: it should authorise through `service.get_expense` (404 for
anyone else's expense, like every endpoint here) and store files through object storage.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse, StreamingResponse

from api.auth.deps import CurrentUser, require
from api.concurrency import IfMatch, set_etag
from api.deps import SessionDep, SessionmakerDep, SettingsDep
from api.errors import UnprocessableEntity, error_responses
from api.expenses import budgets, csv_io, service
from api.expenses.repository import ExpenseFilters
from api.expenses.schemas import (
    BudgetRead,
    BudgetSet,
    CalendarDate,
    CategoryCreate,
    CategoryRead,
    CategoryUpdate,
    ExpenseActivityRead,
    ExpenseCreate,
    ExpenseRead,
    ExpenseSummary,
    ExpenseUpdate,
    ImportReport,
)
from api.middleware import MULTIPART_FRAMING, CheckedJsonRoute, body_limit
from api.models import User
from api.pagination import Page, Pages, set_link_header

router = APIRouter(route_class=CheckedJsonRoute, tags=["expenses"])
categories_router = APIRouter(route_class=CheckedJsonRoute, tags=["categories"])
budgets_router = APIRouter(route_class=CheckedJsonRoute, tags=["budgets"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=200,
        description="Retrying with the same key and body replays the first answer",
    ),
]
REPLAYED = "Idempotent-Replayed"
INT4 = {"ge": -(2**31), "le": 2**31 - 1}
"""Ids are PostgreSQL integers. Checked up front here because the CSV export only queries once
its response has started, too late for an error answer."""


async def expense_filters(
    user: CurrentUser,
    session: SessionDep,
    date_from: Annotated[
        CalendarDate | None, Query(alias="from", description="Spent on or after (YYYY-MM-DD)")
    ] = None,
    date_to: Annotated[
        CalendarDate | None, Query(alias="to", description="Spent on or before (YYYY-MM-DD)")
    ] = None,
    category_id: Annotated[
        int | None, Query(**INT4, description="A category; a parent includes its children")
    ] = None,
    project_id: Annotated[int | None, Query(**INT4)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in the description")] = None,
    user_id: Annotated[
        int | None, Query(**INT4, description="Whose expenses (admins only)")
    ] = None,
    deleted: Annotated[bool, Query(description="List deleted expenses (restorable)")] = False,
) -> ExpenseFilters:
    if date_from is not None and date_to is not None and date_from > date_to:
        msg = f"from ({date_from}) is after to ({date_to}): swapped?"  # else silently empty
        raise UnprocessableEntity(
            msg, extra={"errors": [{"loc": ["query", "to"], "msg": msg, "type": "date_range"}]}
        )
    return ExpenseFilters(
        user_id=service.owner_filter(user, user_id),
        date_from=date_from,
        date_to=date_to,
        category_ids=await service.category_filter(session, category_id),
        project_id=project_id,
        q=q.strip() or None if q else None,
        deleted=deleted,
    )


Filters = Annotated[ExpenseFilters, Depends(expense_filters)]
Creator = Annotated[User, Depends(require("expenses:create"))]
SORT_DOC = (
    "Sort by spent_on, amount, created_at or updated_at; '-' for descending (default -spent_on)"
)


def _answer(outcome: service.Answer[Any] | service.Replay, response: Response) -> Any:
    """The body to send (its headers set on ``response``), or the replay of an earlier one."""
    if isinstance(outcome, service.Replay):
        headers = {**outcome.headers, REPLAYED: "true"}
        return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)
    response.headers.update(outcome.headers)
    return outcome.body


@router.get(
    "/expenses",
    summary="List my expenses (admins: anyone's) with filters and sorting",
    description=SORT_DOC,
    responses=error_responses(400, 401, 403, 422),
)
async def list_expenses(
    session: SessionDep, filters: Filters, params: Pages, request: Request, response: Response
) -> Page[ExpenseRead]:
    items, cursor = await service.list_expenses(session, filters, params)
    set_link_header(request, response, cursor)
    return Page(items=items, next_cursor=cursor)


@router.post(
    "/expenses",
    status_code=status.HTTP_201_CREATED,
    response_model=ExpenseRead,
    summary="Record an expense",
    description="A retry with the same `Idempotency-Key` and body returns the first answer "
    "(`Idempotent-Replayed: true`); the same key with another body is 409.",
    responses=error_responses(401, 403, 409, 422),
)
async def create_expense(
    data: ExpenseCreate,
    user: Creator,
    session: SessionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    outcome = await service.record_expense(session, user, data, idempotency_key)
    return _answer(outcome, response)


@router.get(
    "/expenses/summary",
    response_model_exclude_unset=True,
    summary="Totals per currency, grouped by category, month, project and/or user",
    description="Added up by the database, one row per group and currency: amounts in "
    "different currencies are never added together. `group_by` takes any of category, month, "
    "project, user, comma-separated; without it, one total per currency.",
    responses=error_responses(400, 401, 403, 422),
)
async def summarize_expenses(
    session: SessionDep,
    filters: Filters,
    group_by: Annotated[str | None, Query(max_length=100, examples=["category,month"])] = None,
) -> ExpenseSummary:
    return await service.summarize(session, filters, service.parse_group_by(group_by))


@router.get(
    "/expenses/export.csv",
    summary="Export my expenses (admins: anyone's) as CSV, with the list's filters",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
            "description": "UTF-8 CSV with a header row",
        },
        **error_responses(400, 401, 403, 422),
    },
)
async def export_expenses(filters: Filters, maker: SessionmakerDep) -> StreamingResponse:
    today = date.today().isoformat()
    return StreamingResponse(
        csv_io.export_csv(maker, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="expenses-{today}.csv"'},
    )


@router.post(
    "/expenses/import",
    response_model=ImportReport,
    summary="Import expenses from CSV: all rows or none",
    description=(
        "Send the file as a `text/csv` body or as the multipart field `file`. Columns: "
        "spent_on, amount, currency, category (name or 'Parent/Child'), and optionally "
        "description and project (key); the export's id, user and created_at columns are "
        "ignored. Any bad row and nothing is imported: 422 `import_rejected` lists every bad "
        "row by line. Rows imported before are skipped as duplicates. `dry_run=true` reports "
        "what would happen and changes nothing."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {"$ref": "#/components/schemas/ExpenseImportUpload"}
                },
            },
        }
    },
    responses=error_responses(401, 403, 409, 413, 422),
)
@body_limit(lambda settings: settings.expense_import_max_bytes + MULTIPART_FRAMING)
async def import_expenses(
    request: Request,
    user: Creator,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    dry_run: bool = False,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    upload = await csv_io.read_upload(request, settings.expense_import_max_bytes)
    with upload.file:
        outcome = await csv_io.import_once(
            session,
            user,
            upload,
            dry_run=dry_run,
            max_rows=settings.expense_import_max_rows,
            idempotency_key=idempotency_key,
        )
    return _answer(outcome, response)


@router.get(
    "/expenses/{expense_id}", summary="Read an expense", responses=error_responses(401, 404)
)
async def read_expense(
    expense_id: int, user: CurrentUser, session: SessionDep, response: Response
) -> ExpenseRead:
    expense = await service.get_expense(session, user, expense_id)
    set_etag(response, expense.version)
    return await service.read_one(session, expense)


@router.patch(
    "/expenses/{expense_id}",
    summary="Edit an expense (its owner or an admin); every change is kept in its history",
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def update_expense(
    expense_id: int,
    data: ExpenseUpdate,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> ExpenseRead:
    expense = await service.update_expense(session, user, expense_id, data, if_match)
    set_etag(response, expense.version)
    return await service.read_one(session, expense)


@router.delete(
    "/expenses/{expense_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an expense (restorable unless purge=true)",
    responses=error_responses(401, 403, 404, 409, 412),
)
async def delete_expense(
    expense_id: int,
    user: CurrentUser,
    session: SessionDep,
    if_match: IfMatch = None,
    purge: Annotated[
        bool,
        Query(description="Delete for good, with the history and receipts; cannot be undone"),
    ] = False,
) -> None:
    if purge:
        await service.purge_expense(session, user, expense_id, if_match)
    else:
        await service.delete_expense(session, user, expense_id, if_match)


@router.post(
    "/expenses/{expense_id}/restore",
    summary="Bring a deleted expense back",
    responses=error_responses(401, 403, 404, 409, 412),
)
async def restore_expense(
    expense_id: int,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> ExpenseRead:
    expense = await service.restore_expense(session, user, expense_id, if_match)
    set_etag(response, expense.version)
    return await service.read_one(session, expense)


@router.get(
    "/expenses/{expense_id}/history",
    summary="An expense's audit trail: creation, every edit, deletion and restore",
    responses=error_responses(400, 401, 404),
)
async def list_history(
    expense_id: int,
    user: CurrentUser,
    session: SessionDep,
    params: Pages,
    request: Request,
    response: Response,
) -> Page[ExpenseActivityRead]:
    items, cursor = await service.list_history(session, user, expense_id, params)
    set_link_header(request, response, cursor)
    return Page(items=items, next_cursor=cursor)


# ----- categories --------------------------------------------------------------------------

CategoryAdmin = Annotated[User, Depends(require("categories:manage"))]


@categories_router.get(
    "/expense-categories",
    summary="List expense categories (sort by id or name)",
    responses=error_responses(400, 401),
)
async def list_categories(
    _user: CurrentUser, session: SessionDep, params: Pages, request: Request, response: Response
) -> Page[CategoryRead]:
    items, cursor = await service.list_categories(session, params)
    set_link_header(request, response, cursor)
    return Page(items=items, next_cursor=cursor)


@categories_router.post(
    "/expense-categories",
    status_code=status.HTTP_201_CREATED,
    summary="Add a category, top-level or under a top-level one (admin)",
    responses=error_responses(401, 403, 409, 422),
)
async def create_category(
    data: CategoryCreate, _admin: CategoryAdmin, session: SessionDep, response: Response
) -> CategoryRead:
    category = await service.create_category(session, data)
    response.headers["Location"] = f"/api/v1/expense-categories/{category.id}"
    set_etag(response, category.version)
    return (await service.categories_read(session, [category]))[0]


@categories_router.get(
    "/expense-categories/{category_id}",
    summary="Read a category",
    responses=error_responses(401, 404),
)
async def read_category(
    category_id: int, _user: CurrentUser, session: SessionDep, response: Response
) -> CategoryRead:
    category = await service.get_category(session, category_id)
    set_etag(response, category.version)
    return (await service.categories_read(session, [category]))[0]


@categories_router.patch(
    "/expense-categories/{category_id}",
    summary="Rename or move a category (admin)",
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def update_category(
    category_id: int,
    data: CategoryUpdate,
    _admin: CategoryAdmin,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> CategoryRead:
    category = await service.update_category(session, category_id, data, if_match)
    set_etag(response, category.version)
    return (await service.categories_read(session, [category]))[0]


@categories_router.delete(
    "/expense-categories/{category_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an unused category (admin); one in use is 409 category_in_use",
    responses=error_responses(401, 403, 404, 409, 412),
)
async def delete_category(
    category_id: int, _admin: CategoryAdmin, session: SessionDep, if_match: IfMatch = None
) -> None:
    await service.delete_category(session, category_id, if_match)


# ----- budgets -----------------------------------------------------------------------------

BudgetReader = Annotated[User, Depends(require("budgets:read"))]
BudgetAdmin = Annotated[User, Depends(require("budgets:manage"))]


@budgets_router.get(
    "/projects/{project_id}/budget",
    summary="A project's budget with what is spent and what remains, in its currency",
    description="Monthly budgets show the current month (UTC) unless `month=YYYY-MM` is given. "
    "Linked expenses in other currencies are listed under `not_counted`, never converted.",
    responses=error_responses(400, 401, 403, 404),
)
async def read_budget(
    project_id: str,
    user: BudgetReader,
    session: SessionDep,
    response: Response,
    month: Annotated[str | None, Query(max_length=7, examples=["2026-03"])] = None,
) -> BudgetRead:
    budget = await budgets.read_budget(session, user, project_id, month)
    set_etag(response, budget.version)
    return budget


@budgets_router.put(
    "/projects/{project_id}/budget",
    summary="Set a project's budget (admin): 201 when new, 200 when replaced",
    responses={
        201: {"model": BudgetRead, "description": "Created"},
        **error_responses(401, 403, 404, 412, 422),
    },
)
async def set_budget(
    project_id: str,
    data: BudgetSet,
    user: BudgetAdmin,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> BudgetRead:
    budget, created = await budgets.set_budget(session, user, project_id, data, if_match)
    if created:
        response.status_code = status.HTTP_201_CREATED
    set_etag(response, budget.version)
    return await budgets.to_read(session, budget)


@budgets_router.delete(
    "/projects/{project_id}/budget",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a project's budget (admin)",
    responses=error_responses(401, 403, 404, 412),
)
async def delete_budget(
    project_id: str, user: BudgetAdmin, session: SessionDep, if_match: IfMatch = None
) -> None:
    await budgets.delete_budget(session, user, project_id, if_match)
