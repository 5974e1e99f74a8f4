"""Errors of the expense tracker."""

from typing import Any

from api.errors import AppError, Conflict, NotFound, UnprocessableEntity


class ExpenseNotFound(NotFound):
    code = "expense_not_found"
    title = "No such expense, or you cannot see it"


class ExpenseDeleted(Conflict):
    code = "expense_deleted"
    title = "This expense is deleted; restore it first"


class ExpenseNotDeleted(Conflict):
    code = "expense_not_deleted"
    title = "Only a deleted expense can be restored"


class InvalidExpense(UnprocessableEntity):
    """422 for a rule that needs the database (currency of a stored amount, a category id)."""

    def __init__(self, loc: list[str | int], msg: str, *, code: str = "validation_error") -> None:
        super().__init__(
            f"{'.'.join(str(p) for p in loc)}: {msg}",
            extra={"errors": [{"loc": loc, "msg": msg, "type": code}]},
        )


class CategoryNotFound(NotFound):
    code = "category_not_found"
    title = "No such expense category"


class CategoryInUse(Conflict):
    code = "category_in_use"
    title = "This category is still used; move its expenses or subcategories first"


class CategoryNameTaken(Conflict):
    code = "category_name_taken"
    title = "A category with this name already exists at this level"


class InvalidCategoryParent(UnprocessableEntity):
    code = "invalid_category_parent"
    title = "Categories have two levels: a parent must be a top-level category"


class BudgetNotFound(NotFound):
    code = "budget_not_found"
    title = "This project has no budget"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was used with a different request"


class ImportTooLarge(AppError):
    status = 413
    code = "import_too_large"
    title = "The CSV file is larger than the import allows"


class InvalidCsv(UnprocessableEntity):
    """The file as a whole cannot be read: encoding, header, CSV syntax."""

    code = "invalid_csv"
    title = "The CSV file cannot be imported"


class ImportRejected(UnprocessableEntity):
    """Some rows are bad: every one is listed, and nothing was imported."""

    code = "import_rejected"
    title = "Some rows of the CSV file are not valid; nothing was imported"

    def __init__(self, detail: str, report: dict[str, Any]) -> None:
        super().__init__(detail, extra={"report": report})
