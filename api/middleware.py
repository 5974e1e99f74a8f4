"""ASGI middleware: request ids, bounded request bodies, HEAD as GET, security headers."""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import anyio.to_thread
from fastapi import Request, Response
from fastapi.params import Form
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.config import Settings
from api.docs import DOCS_PATHS
from api.errors import PayloadTooLarge, UnprocessableEntity
from api.logs import request_id_var

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Keeps a well-formed incoming X-Request-ID (for tracing across a proxy), else makes one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                if not any(name.lower() == b"x-request-id" for name, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


BodyLimit = Callable[[Settings], int]
_BODY_LIMIT_ATTRIBUTE = "nimbus_body_limit"
_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])


def body_limit(limit: BodyLimit) -> Callable[[_Endpoint], _Endpoint]:
    """Declare on a route that its bodies may reach ``limit(settings)`` bytes: uploads, and job
    files inside JSON. Every other route reads at most `Settings.json_body_max_bytes`."""

    def declare(endpoint: _Endpoint) -> _Endpoint:
        setattr(endpoint, _BODY_LIMIT_ATTRIBUTE, limit)
        return endpoint

    return declare


def route_body_limit(route: object, settings: Settings) -> int:
    """The most a request to ``route`` may send: what it declares, else the JSON limit."""
    declared = getattr(getattr(route, "endpoint", None), _BODY_LIMIT_ATTRIBUTE, None)
    return int(declared(settings)) if declared is not None else settings.json_body_max_bytes


MULTIPART_FRAMING = 64 * 1024
"""Room an upload's multipart form needs beyond the file itself (boundaries, part headers)."""

MAX_JSON_DEPTH = 32
"""Arrays and objects nested deeper than this are refused (a job's files list is depth 3)."""
MAX_JSON_VALUES = 10_000
"""Values (object members and array items, counted together) one JSON body may hold."""
_PARSE_OFF_LOOP_BYTES = 64 * 1024
"""Bodies larger than this are parsed in a thread, so one cannot hold the event loop."""
_CHECKED_JSON = "nimbus.checked_json"
"""Where the middleware leaves the document it checked, for `CheckedJsonRoute` to hand on."""
_UNDECODED = object()


class _NotFinite(ValueError):
    pass


def _refuse_constant(name: str) -> float:
    raise _NotFinite(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(text)
    return value


def _json_problem(kind: str, msg: str) -> UnprocessableEntity:
    return UnprocessableEntity(msg, extra={"errors": [{"loc": ["body"], "msg": msg, "type": kind}]})


def check_json_body(body: bytes) -> Any:
    """Refuse a JSON body that is too deeply nested, holds too many values or a number that is
    not finite (`1e999999`, `NaN`, `Infinity`), before any model validates it; return the
    document. A body that is not JSON at all is left for FastAPI to report (`json_invalid`,
    with its position): `_UNDECODED`."""
    try:
        document = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _NotFinite as exc:
        raise _json_problem(
            "json_number_not_finite", f"Numbers must be finite; {str(exc)[:40]} is not"
        ) from None
    except RecursionError:
        raise _too_deep() from None
    except ValueError:  # not JSON, not UTF-8, an integer of more than 4300 digits
        return _UNDECODED
    values = 0
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        if depth >= MAX_JSON_DEPTH:
            raise _too_deep()
        values += len(value)
        if values > MAX_JSON_VALUES:
            raise _json_problem(
                "json_too_many_values",
                f"A JSON body may hold at most {MAX_JSON_VALUES:,} values (members and items)",
            )
        stack.extend((item, depth + 1) for item in value)
    return document


def _too_deep() -> UnprocessableEntity:
    return _json_problem(
        "json_too_deep", f"JSON may nest arrays and objects at most {MAX_JSON_DEPTH} deep"
    )


def _is_json(content_type: str) -> bool:
    """As FastAPI decides whether to parse a body as JSON: `application/json` or `.../*+json`."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    maintype, _, subtype = media_type.partition("/")
    return maintype == "application" and (subtype == "json" or subtype.endswith("+json"))


class RequestBodyMiddleware:
    """Every request body is bounded by its route, and JSON is checked before it is parsed.

    An anonymous 14.5 MB JSON body of 1.2 million unknown keys sent to `POST /auth/register`
    was read (any body up to the largest upload was), parsed and validated on the event loop:
    20 s, 1.2 GB and a 109 MB answer. Now a route reads at most what it declares with
    `body_limit` (uploads, job files), else `json_body_max_bytes`: a larger declared
    Content-Length is 413 before a byte is read, a body without one is counted as it arrives.
    A JSON body for a route that reads JSON is read whole (it is small), checked by
    `check_json_body` (in a thread when large) and handed on. The route is known when the app
    first asks for the body: routing has run by then. (FastAPI's own `max_body_size` is fixed
    when the route is declared, and its 413 is plain text.)
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit: int | None = None
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if limit is not None and received > limit:
                    raise self._too_large(limit)  # the app's error handling renders it
            return message

        async def bounded() -> Message:
            nonlocal limit
            if limit is not None:
                return await counted()
            route = scope.get("route")
            limit = route_body_limit(route, self.settings)
            headers = Headers(scope=scope)
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise self._too_large(limit)
            if not (_reads_json(route) and _is_json(headers.get("content-type", ""))):
                return await counted()
            chunks = []
            while True:
                message = await counted()
                if message["type"] != "http.request":
                    return message  # the client went away
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            if len(body) > _PARSE_OFF_LOOP_BYTES:
                document = await anyio.to_thread.run_sync(check_json_body, body)
            else:
                document = check_json_body(body)
            if document is not _UNDECODED:
                scope[_CHECKED_JSON] = document
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, bounded, send)

    def _too_large(self, limit: int) -> PayloadTooLarge:
        return PayloadTooLarge(f"Request bodies here are limited to {limit:,} bytes")


class _CheckedJsonRequest(Request):
    async def json(self) -> Any:
        document = self.scope.get(_CHECKED_JSON, _UNDECODED)
        return await super().json() if document is _UNDECODED else document


class CheckedJsonRoute(APIRoute):
    """Validates the document `RequestBodyMiddleware` decoded and checked instead of decoding
    the body again: a 10 MB job of files cost two decodes of ~0.4 s each, holding the
    interpreter. Every `APIRouter` is made with this `route_class`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_checked(request: Request) -> Response:
            return await handle(_CheckedJsonRequest(request.scope, request.receive))

        return handle_checked


def _reads_json(route: object) -> bool:
    """The route takes a JSON body (not a form or an upload, not one it reads itself)."""
    body_field = getattr(route, "body_field", None)
    return body_field is not None and not isinstance(body_field.field_info, Form)


class HeadAsGetMiddleware:
    """HEAD is answered as GET without the body, as RFC 9110 asks of a server that supports GET
    (uptime monitors and link checkers probe with it; routes declare GET only). The body is
    dropped here rather than left to the HTTP server; headers (Content-Length, ETag) stay."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        # A copy: the server keeps its own scope, so it still knows this is a HEAD.
        await self.app({**scope, "method": "GET"}, receive, send_headers_only)


def _policy(**directives: str) -> bytes:
    return "; ".join(
        f"{name.replace('_', '-')} {value}" for name, value in directives.items()
    ).encode()


_COMMON_CSP = {
    "object_src": "'none'",
    "base_uri": "'self'",
    "frame_ancestors": "'none'",
    "form_action": "'self'",
}
APP_CSP = _policy(
    default_src="'self'",
    script_src="'self'",  # no inline script, no eval
    style_src="'self'",
    # CodeMirror puts its styles in a <style> element (style-mod does so in any document); style
    # attributes stay refused, so markup that slipped through cannot lay an overlay on the app
    style_src_elem="'self' 'unsafe-inline'",
    style_src_attr="'none'",
    # Markdown images: ours, inline ones; remote images are click-to-load, not fetched
    img_src="'self' data: blob:",
    font_src="'self' data:",
    connect_src="'self'",
    **_COMMON_CSP,
)
"""The SPA's policy, sent with every response but the docs pages'."""
DOCS_CSP = _policy(
    default_src="'self'",
    script_src="'self'",
    style_src="'self'",  # Swagger UI styles by CSSOM, which style-src does not limit
    img_src="'self' data:",
    font_src="'self' data:",
    connect_src="'self'",
    **_COMMON_CSP,
)
_SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (
        b"permissions-policy",
        b"accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
        b"microphone=(), payment=(), usb=()",
    ),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class SecurityHeadersMiddleware:
    """Every response carries the browser's protections: a strict Content-Security-Policy (the
    docs pages get theirs), nosniff, no framing, a referrer policy, no powerful features, an
    opener policy, and HSTS when served over https (the public URL, or the request's scheme as
    a trusted proxy reported it). A header the route set itself is kept (a job's files go out
    with `Content-Security-Policy: sandbox`). It wraps the whole app, the 500 handler included.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.https = settings.public_url.startswith("https://")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        docs = any(path == page or path.startswith(page + "/") for page in DOCS_PATHS)
        extra = [(b"content-security-policy", DOCS_CSP if docs else APP_CSP), *_SECURITY_HEADERS]
        if self.https or scope.get("scheme") == "https":
            extra.append(_HSTS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in extra if item[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
