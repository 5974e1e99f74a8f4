"""HTTP metrics through prometheus-fastapi-instrumentator, without its per-request route walk.

The instrumentator labels each request with its route template (``/api/v1/bugs/{bug_id}``),
found by matching the request against the app's routes before the app runs. To match FastAPI
(>= 0.116) included routers it flattens them on every request, and FastAPI rebuilds each
route's dependency state while flattening: about a tenth of the CPU of a bug-list request.
The route table is fixed once the app serves, so this middleware flattens it once and
remembers the template of recently seen paths.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from fastapi import Depends, FastAPI
from prometheus_fastapi_instrumentator import Instrumentator, routing
from prometheus_fastapi_instrumentator.middleware import PrometheusInstrumentatorMiddleware
from starlette.requests import Request

from api.errors import Forbidden, InvalidToken
from api.state import settings_of

ROUTE_NAMES_KEPT = 4096
"""Request paths whose route template is remembered (the oldest is forgotten first)."""


class _RouteCachingMiddleware(PrometheusInstrumentatorMiddleware):
    _routes: list[Any] | None = None
    _names: dict[tuple[str, str, str], str]

    def _get_handler(self, request: Request) -> tuple[str, bool]:
        if self._routes is None:
            self._routes = routing._effective_routes(request.app.routes)
            self._names = {}
        scope = request.scope
        key = (scope.get("root_path", ""), scope["path"], scope["method"])
        name: str | None = self._names.get(key)
        if name is None:
            # matching walks every route (~0.2 ms); a path's answer never changes, and pages
            # such as a project's bug list are asked for again and again
            name = routing._get_route_name(scope, self._routes)
            if name is not None:  # not every stray 404 path
                self._names[key] = name
                if len(self._names) > ROUTE_NAMES_KEPT:
                    del self._names[next(iter(self._names))]
        return (name, True) if name is not None else (request.url.path, False)


class MetricsNotPublic(Forbidden):
    code = "metrics_not_public"
    title = "Metrics are not public"


FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def _from_this_host(request: Request) -> bool:
    """A client on this host that no proxy forwarded (a proxy here would make every visitor
    look local)."""
    if request.client is None or any(name in request.headers for name in FORWARDING_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


async def metrics_access(request: Request) -> None:
    """`/metrics` tells the world about every route, the queue and the sandboxes. With
    `NIMBUS_METRICS_TOKEN` set it answers whoever sends it as a Bearer token (Prometheus can);
    without one, only clients on this host."""
    token = settings_of(request.app).metrics_token
    if token is None:
        if not _from_this_host(request):
            raise MetricsNotPublic(
                "/metrics answers only clients on this host; set NIMBUS_METRICS_TOKEN and send "
                "it as 'Authorization: Bearer <token>' to scrape from elsewhere"
            )
        return
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), token.encode()):
        raise InvalidToken("Send 'Authorization: Bearer <NIMBUS_METRICS_TOKEN>' for /metrics")


def instrument(app: FastAPI) -> None:
    """Count and time every request by route template; serve them on ``/metrics`` to those
    `metrics_access` lets in."""
    Instrumentator(excluded_handlers=["/metrics"]).instrument(app).expose(
        app,
        endpoint="/metrics",
        include_in_schema=False,
        dependencies=[Depends(metrics_access)],
    )
    for middleware in app.user_middleware:
        factory: Any = middleware.cls
        if factory is PrometheusInstrumentatorMiddleware:
            middleware.cls = _RouteCachingMiddleware  # type: ignore[assignment]  # same signature
