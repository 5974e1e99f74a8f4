"""Health probes and the published role/permission matrix."""

from __future__ import annotations

import logging
from enum import StrEnum

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from api.jobs.deps import job_runtime
from api.jobs.runtime import executor_state_without_runtime
from api.middleware import CheckedJsonRoute
from api.models import Role
from api.permissions import PERMISSIONS
from api.state import engine_of, settings_of, storage_of
from api.storage import StorageUnavailable

log = logging.getLogger("nimbus.health")

health_router = APIRouter(route_class=CheckedJsonRoute, tags=["ops"])
roles_router = APIRouter(route_class=CheckedJsonRoute, tags=["roles"])


class HealthStatus(StrEnum):
    ok = "ok"
    unavailable = "unavailable"


class Health(BaseModel):
    status: HealthStatus
    checks: dict[str, str] = {}
    details: dict[str, str] = {}


@health_router.get(
    "/healthz",
    summary="Liveness: the process answers",
    openapi_extra={"security": []},  # probes carry no token
)
async def healthz() -> Health:
    return Health(status="ok")


@health_router.get(
    "/readyz",
    response_model=Health,
    summary="Readiness: database, storage and executor answer",
    responses={503: {"model": Health, "description": "A dependency is down"}},
    openapi_extra={"security": []},  # probes carry no token
)
async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        async with engine_of(request.app).connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready"; the reason goes to the log
        log.warning("readiness: database check failed: %s", exc)
        checks["database"] = "unavailable"
    try:
        await storage_of(request.app).check()
        checks["storage"] = "ok"
    except StorageUnavailable as exc:
        log.warning("readiness: storage check failed: %s", exc)
        checks["storage"] = "unavailable"
    checks["executor"], executor_detail = _executor_check(request)
    details = {"executor": executor_detail} if executor_detail else {}
    ok = all(v in ("ok", "disabled") for v in checks.values())
    body = Health(status="ok" if ok else "unavailable", checks=checks, details=details)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


def _executor_check(request: Request) -> tuple[str, str]:
    """ok (a worker here, or jobs left to `nimbus worker`s), disabled (switched off on
    purpose) or unavailable (wanted but no sandbox works: the detail says how to fix it).
    An ok on the weaker bubblewrap sandbox comes with its notice (how to get Docker)."""
    settings = settings_of(request.app)
    runtime = job_runtime(request.app)
    state = runtime.state if runtime is not None else executor_state_without_runtime(settings)
    if state.available:
        return "ok", state.notice or ""  # ready, but say so when on the weaker sandbox
    if settings.executor_in_process and settings.executor_backend == "off":
        return "disabled", state.detail
    return "unavailable", state.detail


class PermissionRead(BaseModel):
    name: str
    description: str
    roles: list[Role]


class RolesRead(BaseModel):
    roles: list[Role]
    permissions: list[PermissionRead]


@roles_router.get(
    "/roles",
    summary="The roles and the permission matrix the API enforces",
    openapi_extra={"security": []},  # the matrix is public
)
async def list_roles() -> RolesRead:
    return RolesRead(
        roles=list(Role),
        permissions=[
            PermissionRead(name=name, description=desc, roles=sorted(roles, key=list(Role).index))
            for name, (roles, desc) in PERMISSIONS.items()
        ],
    )
