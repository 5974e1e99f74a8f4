"""The application factory: lifespan, middleware, error handlers, routers and the SPA."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp

from api import http_metrics
from api.attachments.router import router as attachments_router
from api.auth.router import router as auth_router
from api.auth.router import tokens_router
from api.bugs.router import comments_router
from api.bugs.router import router as bugs_router
from api.config import Settings, get_settings
from api.db import create_engine, create_sessionmaker
from api.deps import json_bodies_only
from api.docs import install_docs
from api.errors import PROBLEM_JSON, ValidationProblem, install_error_handlers
from api.expenses.router import budgets_router, categories_router
from api.expenses.router import router as expenses_router
from api.expenses.schemas import ExpenseImportUpload
from api.jobs.router import router as jobs_router
from api.jobs.router import runtimes_router
from api.jobs.runtime import JobRuntime
from api.jobs.signals import SHUTDOWN, signals
from api.middleware import (
    HeadAsGetMiddleware,
    RequestBodyMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
)
from api.notifications.email import email_handler
from api.notifications.router import router as notifications_router
from api.ops.router import health_router, roles_router
from api.outbox import Handler, OutboxDrainer
from api.projects.router import router as projects_router
from api.spa import SPAStaticFiles, default_spa_dir
from api.state import settings_of
from api.storage import Storage, open_storage
from api.users.router import router as users_router
from api.webhooks.delivery import webhook_handler
from api.webhooks.router import router as webhooks_router
from api.wiring import wire_job_hooks

API_PREFIX = "/api/v1"
SCHEMA_REF = "#/components/schemas/"
# The bodies every error response is sent as (application/problem+json).
PROBLEM_SCHEMAS = {"Problem", "ValidationProblem", "ConflictProblem", "VersionConflictProblem"}
# FastAPI documents its own `{"detail": [...]}` 422 body; the API sends a ValidationProblem.
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
# Bodies that a handler reads itself, referenced from `openapi_extra`: they need a schema too.
OPENAPI_EXTRA_MODELS: tuple[type[BaseModel], ...] = (ExpenseImportUpload, ValidationProblem)

log = logging.getLogger("nimbus")


def operation_id(route: APIRoute) -> str:
    """`<tag>-<name>`: `list_projects` under tag `projects` becomes `projects-list`."""
    tag = str(route.tags[0]) if route.tags else "default"
    name = route.name
    for suffix in (tag, tag.removesuffix("s")):
        name = name.removesuffix(f"_{suffix}")
    return f"{tag}-{name.replace('_', '-')}"


@contextlib.contextmanager
def background(coro: Coroutine[Any, Any, None]) -> Iterator[asyncio.Task[None]]:
    """Run a long-lived task for the duration of the block, cancelling it at the end."""
    task = asyncio.create_task(coro)
    try:
        yield task
    finally:
        task.cancel()


def outbox_handlers(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], storage: Storage
) -> dict[str, Handler]:
    """What each kind of outbox message does when it is delivered."""

    async def delete_blob(payload: dict[str, Any]) -> None:
        await storage.delete(str(payload["key"]))

    return {
        "blob.delete": delete_blob,
        "email": email_handler(settings.smtp_url, settings.smtp_from, settings.public_url),
        "webhook": webhook_handler(
            sessionmaker, settings.effective_secret_key, settings.webhook_allow_private_targets
        ),
    }


def add_model_schemas(schemas: dict[str, Any], *models: type[BaseModel]) -> None:
    """Put models' JSON schemas (and the ones they nest) under components/schemas."""
    for model in models:
        schema = model.model_json_schema(ref_template=SCHEMA_REF + "{model}")
        for name, nested in schema.pop("$defs", {}).items():
            schemas.setdefault(name, nested)
        schemas.setdefault(model.__name__, schema)


def all_models(base: type[BaseModel] = BaseModel) -> Iterator[type[BaseModel]]:
    for model in base.__subclasses__():
        yield model
        yield from all_models(model)


def restore_examples(schemas: dict[str, Any]) -> None:
    """FastAPI drops every null from the document, examples included ("assignee": null
    vanishes and the example no longer validates): put the models' own examples back."""
    for model in all_models():
        extra = model.model_config.get("json_schema_extra")
        if isinstance(extra, dict) and "examples" in extra and model.__name__ in schemas:
            schemas[model.__name__]["examples"] = extra["examples"]


_NOT_JSON = {
    "description": "Unsupported media type: the body is not sent as JSON",
    "content": {PROBLEM_JSON: {"schema": {"$ref": SCHEMA_REF + "Problem"}}},
}
# `nimbus serve` answers any request whose line and headers pass NIMBUS_REQUEST_HEAD_MAX_BYTES
# with this, before routing (api/http_limits.py): every operation can get it.
_HEAD_TOO_LARGE = {
    "description": "Request header fields too large: the request line and headers pass the cap",
    "content": {PROBLEM_JSON: {"schema": {"$ref": SCHEMA_REF + "Problem"}}},
}
# Relative: the API is wherever this document was fetched from.
SERVERS = [{"url": "/", "description": "The Nimbus server that serves this document"}]
# No licence is chosen yet: until the owners pick one, say so (SPDX's form for a licence of
# one's own) rather than invent an open one.
LICENSE = {"name": "Proprietary: no licence granted", "identifier": "LicenseRef-Proprietary"}


def problem_json_openapi(app: FastAPI) -> dict[str, Any]:
    """The schema, with error bodies declared as the problem+json they are sent as."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
            tags=app.openapi_tags,
            servers=SERVERS,
            license_info=LICENSE,
        )
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for status_code, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    body = content.get("application/json")
                    if status_code[0] not in "45" or body is None:
                        continue
                    name = str(body.get("schema", {}).get("$ref", "")).removeprefix(SCHEMA_REF)
                    if name == "HTTPValidationError":
                        body["schema"] = {"$ref": SCHEMA_REF + "ValidationProblem"}
                        name = "ValidationProblem"
                    if name in PROBLEM_SCHEMAS:
                        content[PROBLEM_JSON] = content.pop("application/json")
                if "application/json" in operation.get("requestBody", {}).get("content", {}):
                    operation["responses"].setdefault("415", _NOT_JSON)  # `json_bodies_only`
                operation["responses"].setdefault("431", _HEAD_TOO_LARGE)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in FASTAPI_VALIDATION_SCHEMAS:
            schemas.pop(name, None)
        add_model_schemas(schemas, *OPENAPI_EXTRA_MODELS)
        restore_examples(schemas)
        schema["components"]["schemas"] = dict(sorted(schemas.items()))
        app.openapi_schema = schema
    return app.openapi_schema


def begin_shutdown(app: FastAPI) -> None:
    """The server stopped accepting connections: end SSE streams and `?wait` long polls now so
    in-flight requests drain quickly (clients resume with `Last-Event-ID` on another replica)."""
    app.state.closing.set()
    signals.fire(SHUTDOWN)


class NimbusAPI(FastAPI):
    """FastAPI whose outermost layer adds the security headers: outside Starlette's own
    error middleware, so a 500 carries them too."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeadersMiddleware(super().build_middleware_stack(), settings_of(self))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    wire_job_hooks()  # before any job can end in this process (its worker, its lease reaper)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.effective_secret_key  # noqa: B018 - create the dev key now, not on first login
        async with contextlib.AsyncExitStack() as stack:
            # Tests may hand in their own engine (one connection, rolled back per test).
            if not hasattr(app.state, "engine"):
                app.state.engine = create_engine(settings.effective_database_url)
                app.state.sessionmaker = create_sessionmaker(app.state.engine)
                stack.push_async_callback(app.state.engine.dispose)
            stack.push_async_callback(app.state.storage.close)
            drainer = OutboxDrainer(
                app.state.sessionmaker,
                outbox_handlers(settings, app.state.sessionmaker, app.state.storage),
                poll_s=settings.outbox_poll_interval_s,
            )
            app.state.outbox = drainer
            stack.enter_context(background(drainer.run_forever()))
            # Tests may also hand in a sandbox backend they share between apps.
            jobs = JobRuntime(
                settings,
                app.state.sessionmaker,
                app.state.engine.url.render_as_string(hide_password=False),
            )
            await jobs.start(getattr(app.state, "sandbox_backend", None))
            stack.push_async_callback(jobs.stop)
            app.state.jobs = jobs
            yield

    app = NimbusAPI(
        title="Nimbus",
        docs_url=None,  # served by `install_docs`, without a CDN or inline script
        redoc_url=None,
        version="1.0.0",
        summary="Bug tracker, expense tracker and sandboxed code runner for software teams",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        openapi_tags=[
            {"name": "auth", "description": "Sign up, sign in and tokens"},
            {"name": "users", "description": "Profiles and account management"},
            {"name": "roles", "description": "The permission matrix"},
            {"name": "projects", "description": "Projects and members"},
            {"name": "bugs", "description": "Bugs, their workflow, history and watchers"},
            {"name": "comments", "description": "Comments on bugs"},
            {"name": "notifications", "description": "In-app notifications"},
            {"name": "attachments", "description": "Files attached to bugs"},
            {"name": "webhooks", "description": "Outgoing webhooks per project"},
            {"name": "jobs", "description": "Run code in the sandbox and follow it live"},
            {"name": "runtimes", "description": "What the sandbox can run, and its limits"},
            {"name": "expenses", "description": "Expenses, totals, history, CSV export and import"},
            {"name": "categories", "description": "Expense categories (two levels)"},
            {"name": "budgets", "description": "Project budgets and their alerts"},
            {"name": "ops", "description": "Health probes"},
        ],
    )
    app.state.settings = settings
    app.state.closing = asyncio.Event()
    app.state.storage = open_storage(
        settings.storage_url,
        data_dir=settings.data_dir,
        endpoint_url=settings.s3_endpoint_url,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
    )
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["ETag", "Link", "Location", "Retry-After", "X-Request-ID"],
        )
    app.add_middleware(RequestBodyMiddleware, settings=settings)
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(RequestIdMiddleware)  # outermost: the refusals above carry its id too

    for router in (
        auth_router,
        tokens_router,
        users_router,
        roles_router,
        projects_router,
        bugs_router,
        comments_router,
        notifications_router,
        attachments_router,
        webhooks_router,
        jobs_router,
        runtimes_router,
        expenses_router,
        categories_router,
        budgets_router,
    ):
        app.include_router(router, prefix=API_PREFIX, dependencies=[Depends(json_bodies_only)])
    app.include_router(health_router)
    install_docs(app)
    http_metrics.instrument(app)

    app.openapi = lambda: problem_json_openapi(app)  # type: ignore[method-assign]

    spa_dir = settings.spa_dir or default_spa_dir()
    if (spa_dir / "index.html").is_file():
        app.mount("/", SPAStaticFiles(directory=spa_dir, html=True), name="spa")
    return app
