"""HTTP metrics through prometheus-fastapi-instrumentator, without its per-request route walk.

The instrumentator labels each request with its route template (``/api/v1/bugs/{bug_id}``),
found by matching the request against the app's routes before the app runs. To match FastAPI
(>= 0.116) included routers it flattens them on every request, and FastAPI rebuilds each
route's dependency state while flattening: about a tenth of the CPU of a bug-list request.
The route table is fixed once the app serves, so this middleware flattens it once.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from prometheus_fastapi_instrumentator import Instrumentator, routing
from prometheus_fastapi_instrumentator.middleware import PrometheusInstrumentatorMiddleware
from starlette.requests import Request


class _RouteCachingMiddleware(PrometheusInstrumentatorMiddleware):
    _routes: list[Any] | None = None

    def _get_handler(self, request: Request) -> tuple[str, bool]:
        if self._routes is None:
            self._routes = routing._effective_routes(request.app.routes)
        name = routing._get_route_name(request.scope, self._routes)
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
