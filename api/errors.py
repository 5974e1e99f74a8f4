"""The AppError hierarchy and the one handler that renders every error as problem+json."""

from __future__ import annotations

import itertools
import logging
import uuid
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("nimbus.errors")

PROBLEM_JSON = "application/problem+json"


class AppError(Exception):
    """Raised anywhere below a router; rendered once by `app_error_handler`."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(self.detail)


class BadRequest(AppError):
    pass


class Unauthorized(AppError):
    status = 401
    code = "not_authenticated"
    title = "Not authenticated"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    title = "Incorrect email or password"


class InvalidToken(Unauthorized):
    code = "invalid_token"
    title = "The token is invalid, expired or revoked"


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    title = "You are not allowed to do this"


class NotFound(AppError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(AppError):
    status = 409
    code = "conflict"
    title = "Conflict"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"
    title = "The request body is too large"


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class PreconditionFailed(AppError):
    status = 412
    code = "version_conflict"
    title = "The resource was changed by someone else; reload it and try again"


class PreconditionRequired(AppError):
    status = 428
    code = "precondition_required"
    title = "This request must carry an If-Match header"


class UnprocessableEntity(AppError):
    status = 422
    code = "validation_error"
    title = "The request is not valid"


class TooManyRequests(AppError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, retry_after_s: int, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after_s))})


class ServiceUnavailable(AppError):
    status = 503
    code = "service_unavailable"
    title = "A service Nimbus depends on is unavailable"


class Problem(BaseModel):
    """RFC 9457 problem details, as every 4xx/5xx response carries them."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str
    code: str
    request_id: str | None = None


class ConflictProblem(Problem):
    """409: the request conflicts with the resource's state."""

    allowed: list[str] | None = Field(
        default=None,
        description="`invalid_transition`: the statuses this user may move the bug to now",
    )
    job_id: str | None = Field(
        default=None,
        description="`idempotency_key_reused` on POST /jobs: the job first made with this key",
    )


class VersionConflictProblem(Problem):
    """412 `version_conflict`: the If-Match ETag is stale."""

    current_version: int | None = Field(
        default=None,
        description="The resource's version now (its ETag), when the If-Match check found it stale",
    )


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


MAX_LISTED_ERRORS = 10
"""A 422 lists this many of its errors; `errors_total` counts them all."""


class ValidationProblem(Problem):
    errors: list[ValidationIssue] = Field(
        description=f"The first {MAX_LISTED_ERRORS} problems found (fix them and send again)"
    )
    errors_total: int = Field(
        description="How many problems were found, the ones not listed included", ge=0
    )
    reason: str | None = Field(
        default=None,
        description="`weak_password`: why, as a stable key (common_password, context, "
        "repeated_character, whitespace_only, repeated, keyboard_pattern, sequence, date, "
        "dictionary_words, guessable)",
    )


BODY_PARSE_ERROR = "There was an error parsing the body"  # FastAPI's HTTPException detail

_STATUS_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("not_authenticated", "Not authenticated"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
}


def _request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else uuid.uuid4().hex


def problem_response(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    request_id = _request_id(request)
    # Set here too: a 500 is rendered outside the request-id middleware.
    headers = {**(headers or {}), "X-Request-ID": request_id}
    body: dict[str, Any] = {
        "type": f"https://nimbus.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "code": code,
        "request_id": request_id,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


async def app_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    extra = dict(exc.extra)
    if exc.status == 422:  # documented as a ValidationProblem, which always lists its errors
        errors = extra.get("errors") or [{"loc": [], "msg": exc.detail, "type": exc.code}]
        extra["errors"] = errors[:MAX_LISTED_ERRORS]
        extra.setdefault("errors_total", len(errors))
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        headers=exc.headers,
        **extra,
    )


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.__cause__, AppError):
        # FastAPI turns any error while reading the body into a 400 "error parsing the body",
        # ours included (a body over the size limit, counted as it arrives)
        return await app_error_handler(request, exc.__cause__)
    if exc.status_code == 400:
        # Only the framework raises HTTPException (we raise AppError), and its 400s all mean the
        # body could not be read: not UTF-8, a broken or oversized multipart form. Malformed JSON
        # is already a 422 `json_invalid`, so these are reported the same way.
        msg = exc.detail if isinstance(exc.detail, str) else "The body could not be parsed"
        if msg == BODY_PARSE_ERROR:
            msg = "The body could not be parsed"
        issue = {"loc": ["body"], "msg": msg, "type": "body_invalid"}
        return _validation_problem(request, [issue])
    code, title = _STATUS_CODES.get(exc.status_code, ("http_error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No route matches {request.method} {request.url.path}"
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem_response(
        request,
        status=exc.status_code,
        code=code,
        title=title,
        detail=detail,
        headers=dict(exc.headers or {}),
    )


def _validation_problem(
    request: Request,
    errors: list[dict[str, Any]],
    fallback: str = "The request is not valid",
    total: int | None = None,
) -> JSONResponse:
    """A 422 that lists the first `MAX_LISTED_ERRORS` errors and counts them all: one body of a
    million unknown keys made a million errors, a 109 MB answer."""
    first = errors[0] if errors else None
    detail = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}" if first else fallback
    return problem_response(
        request,
        status=422,
        code="validation_error",
        title="The request is not valid",
        detail=detail.removeprefix(": "),
        errors=errors[:MAX_LISTED_ERRORS],
        errors_total=len(errors) if total is None else total,
    )


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    found = exc.errors()
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in itertools.islice(found, MAX_LISTED_ERRORS)
    ]
    return _validation_problem(request, errors, total=len(found))


async def unhandled_error_handler(request: Request, exc: Exception) -> JSONResponse:
    request_id = _request_id(request)
    log.exception(
        "unhandled error request_id=%s path=%s",
        request_id,
        request.url.path,
        extra={"request_id": request_id},  # this runs after the request's log context ended
    )
    return problem_response(
        request,
        status=500,
        code="internal_error",
        title="Internal server error",
        detail=f"Something went wrong on our side; quote request id {request_id} when reporting it",
    )


async def stale_data_handler(request: Request, exc: Exception) -> JSONResponse:
    """A concurrent writer bumped the row's version between our read and our write."""
    return await app_error_handler(
        request, PreconditionFailed("Someone else changed this item meanwhile; reload it")
    )


def _error_codes(exc: DBAPIError) -> set[str]:
    """The driver's codes for ``exc``: PostgreSQL's SQLSTATE (asyncpg's own error may be the
    cause), SQLite's extended result code name."""
    codes = set()
    for error in (exc.orig, getattr(exc.orig, "__cause__", None)):
        for attribute in ("sqlstate", "pgcode", "sqlite_errorname"):
            code = getattr(error, attribute, None)
            if isinstance(code, str):
                codes.add(code)
    return codes


def _is_data_exception(exc: DBAPIError) -> bool:
    """SQLSTATE class 22: the database cannot take a value, e.g. an id beyond the int4 range
    (asyncpg reports that before sending the query, as its own DataError)."""
    return any(code.startswith("22") for code in _error_codes(exc))


_UNIQUE_VIOLATIONS = {"23505", "SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"}
_FOREIGN_KEY_VIOLATIONS = {"23503", "SQLITE_CONSTRAINT_FOREIGNKEY"}


def is_unique_violation(exc: DBAPIError) -> bool:
    return bool(_error_codes(exc) & _UNIQUE_VIOLATIONS)


_OUT_OF_RANGE = {
    "loc": [],
    "msg": "A value in the request is out of range or cannot be stored",
    "type": "value_out_of_range",
}


async def database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if _is_data_exception(exc):
        return _validation_problem(request, [_OUT_OF_RANGE])
    if _error_codes(exc) & (_UNIQUE_VIOLATIONS | _FOREIGN_KEY_VIOLATIONS):
        # A safety net: races we know of are answered where they happen (`flush_new`); one
        # that lands here is worth a look, so it is logged with its statement.
        log.warning("write conflict answered with a generic 409", exc_info=exc)
        return await app_error_handler(
            request,
            Conflict(
                "This conflicts with a change made at the same moment (the same name taken, "
                "or something it refers to deleted); reload and try again"
            ),
        )
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        log.warning("database unavailable: %s", exc.__class__.__name__)
        return await app_error_handler(
            request,
            ServiceUnavailable(
                "The database is unavailable; try again shortly", headers={"Retry-After": "5"}
            ),
        )
    return await unhandled_error_handler(request, exc)


async def overflow_handler(request: Request, exc: Exception) -> JSONResponse:
    """SQLite's driver refuses an int beyond 64 bits itself, before any SQL runs, with a plain
    OverflowError (PostgreSQL's answer is a data exception, above): the same 422 for both."""
    if "SQLite INTEGER" in str(exc):
        return _validation_problem(request, [_OUT_OF_RANGE])
    return await unhandled_error_handler(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, app_error_handler)
    app.add_exception_handler(StaleDataError, stale_data_handler)
    app.add_exception_handler(DBAPIError, database_error_handler)
    app.add_exception_handler(OverflowError, overflow_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(Exception, unhandled_error_handler)


_PROBLEM_MODELS: dict[int, type[Problem]] = {
    409: ConflictProblem,
    412: VersionConflictProblem,
    422: ValidationProblem,
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the problem+json errors an operation can return."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        model = _PROBLEM_MODELS.get(status, Problem)
        out[status] = {"model": model, "content": {PROBLEM_JSON: {}}}
    return out
