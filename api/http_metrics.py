"""HTTP metrics through prometheus-fastapi-instrumentator, without its per-request route walk.

The instrumentator labels each request with its route template (``/api/v1/bugs/{bug_id}``),
found by matching the request against the app's routes before the app runs. To match FastAPI
(>= 0.116) included routers it flattens them on every request, and FastAPI rebuilds each
route's dependency state while flattening: about a tenth of the CPU of a bug-list request.
The route table is fixed once the app serves, so this middleware flattens it once and
remembers the template of recently seen paths.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from prometheus_fastapi_instrumentator import Instrumentator, routing
from prometheus_fastapi_instrumentator.middleware import PrometheusInstrumentatorMiddleware
from starlette.requests import Request

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


def instrument(app: FastAPI) -> None:
    """Count and time every request by route template; serve them on ``/metrics``."""
    Instrumentator(excluded_handlers=["/metrics"]).instrument(app).expose(
        app, endpoint="/metrics", include_in_schema=False
    )
    for middleware in app.user_middleware:
        factory: Any = middleware.cls
        if factory is PrometheusInstrumentatorMiddleware:
            middleware.cls = _RouteCachingMiddleware  # type: ignore[assignment]  # same signature
