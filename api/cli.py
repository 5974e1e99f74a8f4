"""The `nimbus` command: serve, worker, migrate, create-admin, sandbox build, openapi."""

from __future__ import annotations

import asyncio
import getpass
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from api import migrations
from api.config import Settings, get_settings
from api.db import create_engine, create_sessionmaker
from api.errors import AppError
from api.http_limits import bounded_http_protocol
from api.logs import configure_logging
from api.models import Role
from api.state import storage_of
from executor.backends import ExecutorUnavailable

app = typer.Typer(help="Nimbus: bug tracker, expense tracker and sandboxed code runner.")
sandbox_app = typer.Typer(help="The sandbox runtime image.")
app.add_typer(sandbox_app, name="sandbox")


@app.callback()
def _valid_settings() -> None:
    """Every command needs valid settings: say what is wrong, one line per problem, and stop
    (a traceback would be long and would print the settings' values, the secret among them)."""
    try:
        get_settings()
    except ValidationError as exc:
        for problem in settings_problems(exc):
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2) from None


def settings_problems(exc: ValidationError) -> list[str]:
    """Each problem with the variable it is about; never the value given."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        field = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"NIMBUS_{field.upper()}: {message}" if field else message)
    return problems


def _configure_logging(settings: Settings) -> None:
    configure_logging(settings.log_level, settings.effective_log_format)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (NIMBUS_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (NIMBUS_PORT)")] = None,
    migrate: Annotated[
        bool | None,
        typer.Option(help="Apply migrations first (default: yes on SQLite, no on PostgreSQL)"),
    ] = None,
) -> None:
    """Run the API (and the SPA, when built)."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _configure_logging(settings)
    if migrate if migrate is not None else settings.is_sqlite:
        migrations.upgrade()
    from api.main import create_app

    application = create_app(settings)
    config = uvicorn.Config(
        application,
        host=host or settings.host,
        port=port or settings.port,
        # X-Forwarded-For/-Proto only from the configured proxies: a client that reaches the
        # API directly must not choose the address its sign-in failures are counted under.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        log_level=settings.log_level.lower(),
        log_config=None,  # keep the handlers set up above (JSON or text, with request ids)
        timeout_graceful_shutdown=settings.shutdown_grace_s,
        # A request line and headers over the cap are 431 before they are kept (httptools keeps
        # any size; h11's own cap, set too, would answer 400)
        http=bounded_http_protocol(settings.request_head_max_bytes),
        h11_max_incomplete_event_size=settings.request_head_max_bytes,
    )
    GracefulServer(config, application).run()


class GracefulServer(uvicorn.Server):
    """uvicorn, which on SIGTERM/SIGINT stops accepting and drains in-flight requests, plus a
    word to the app so its SSE streams and long polls end instead of holding the drain up."""

    def __init__(self, config: uvicorn.Config, application: FastAPI) -> None:
        super().__init__(config)
        self.application = application
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._loop is not None:
            from api.main import begin_shutdown

            self._loop.call_soon_threadsafe(begin_shutdown, self.application)


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Jobs run at once (NIMBUS_JOB_CONCURRENCY)")
    ] = None,
) -> None:
    """Run a job worker alone (e.g. on a host with its own Docker engine) until SIGTERM."""
    settings = get_settings()
    if concurrency is not None:
        settings = settings.model_copy(update={"job_concurrency": concurrency})
    _configure_logging(settings)
    try:
        asyncio.run(_run_worker(settings))
    except ExecutorUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


async def _run_worker(settings: Settings) -> None:
    from prometheus_client import start_http_server

    from api.jobs.runtime import NO_SANDBOX, sandbox_instance
    from api.jobs.signals import PgListener
    from api.jobs.worker import Worker
    from api.wiring import wire_job_hooks
    from executor.backends import select_backend

    wire_job_hooks()  # as `nimbus serve` does: a reproduction's verdict is recorded here too
    kind = "auto" if settings.executor_backend == "off" else settings.executor_backend
    backend = await select_backend(
        kind,
        settings.docker_host,
        settings.sandbox_image,
        pool_size=settings.sandbox_pool_size,
        instance=sandbox_instance(settings),
    )
    if backend is None:
        raise ExecutorUnavailable(NO_SANDBOX)
    engine = create_engine(settings.effective_database_url)
    listener = PgListener(settings.effective_database_url) if not settings.is_sqlite else None
    job_worker = None
    metrics_server = None
    try:
        if settings.worker_metrics_port is not None:
            # Job, queue and sandbox metrics for Prometheus (the API serves its own /metrics).
            metrics_server, _ = start_http_server(
                settings.worker_metrics_port, addr=settings.worker_metrics_host
            )
        await backend.check()
        if listener is not None:
            await listener.start()
        job_worker = Worker(create_sessionmaker(engine), backend, settings)
        await job_worker.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        if job_worker is not None:
            await job_worker.stop(settings.worker_shutdown_grace_s)
        await backend.close()
        if listener is not None:
            await listener.stop()
        await engine.dispose()
        if metrics_server is not None:
            metrics_server.shutdown()


@sandbox_app.command("build")
def sandbox_build(
    tag: Annotated[str | None, typer.Option(help="Image tag (NIMBUS_SANDBOX_IMAGE)")] = None,
    runtime: Annotated[
        str, typer.Option(help="python, or python-sci (numpy, pandas, matplotlib, scipy, pytest)")
    ] = "python",
) -> None:
    """Build the runtime image: `docker build` if a registry answers, else offline."""
    from executor.image import ImageBuildError, build_image
    from executor.image.build import SCI_TAG, build_sci_image

    if runtime not in ("python", "python-sci"):
        typer.echo(f"error: unknown runtime {runtime!r}: python or python-sci", err=True)
        raise typer.Exit(2)
    settings = get_settings()
    try:
        if runtime == "python-sci":
            built = build_sci_image(settings.docker_host, tag or SCI_TAG, progress=_progress)
        else:
            built = build_image(
                docker_host=settings.docker_host,
                tag=tag or settings.sandbox_image,
                progress=_progress,
            )
    except ImageBuildError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"sandbox image {built} is ready")


NEEDS_PACKAGES = 3
"""`nimbus sandbox prepare`'s exit status when Debian packages must be installed first."""


@sandbox_app.command("prepare")
def sandbox_prepare(
    missing_file: Annotated[
        Path | None,
        typer.Option(help="Where to write the Debian packages still needed (then exit 3)"),
    ] = None,
) -> None:
    """Make jobs runnable here and say on which sandbox: the Docker image when an engine
    answers (built when missing), else bubblewrap. `make run` runs this before serving."""
    from api.jobs.setup import prepare

    result = prepare(get_settings(), _progress)
    if result.missing:
        typer.echo(f"sandbox: {result.message}; needs {' '.join(result.missing)}", err=True)
        if missing_file is not None:
            missing_file.write_text(" ".join(result.missing) + "\n")
        raise typer.Exit(NEEDS_PACKAGES)
    if not result.ok:
        typer.echo(f"error: {result.message}", err=True)
        raise typer.Exit(1)
    typer.echo(f"sandbox: {result.message}")


def _progress(line: str) -> None:
    typer.echo(f"  {line}", err=True)


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
) -> None:
    """Apply database migrations."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(revision=revision)
    typer.echo(f"database at {revision}")


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(prompt=True)],
    full_name: Annotated[str, typer.Option(prompt=True)] = "Administrator",
    password: Annotated[
        str | None,
        typer.Option(help="Read from a prompt when not given", envvar="NIMBUS_ADMIN_PASSWORD"),
    ] = None,
) -> None:
    """Create an administrator account (for closed registration or a lost admin)."""
    password = password or getpass.getpass("Password: ")
    try:
        user_id = asyncio.run(_create_admin(email, full_name, password))
    except AppError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"created admin {email} (id {user_id})")


async def _create_admin(email: str, full_name: str, password: str) -> int:
    from api.auth.service import create_user

    if len(password) < 8:
        raise typer.BadParameter("password must have at least 8 characters")
    engine = create_engine(get_settings().effective_database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            user = await create_user(
                session, email=email, password=password, full_name=full_name, role=Role.admin
            )
            assert user.id is not None
            return user.id
    finally:
        await engine.dispose()


@app.command("seed-demo")
def seed_demo(
    bugs: Annotated[
        int, typer.Option(min=0, help="How many bugs (bulk beyond the first 300)")
    ] = 300,
    migrate: Annotated[
        bool, typer.Option(help="Apply migrations first, so a fresh data directory works")
    ] = True,
) -> None:
    """Fill an empty instance with demo users, projects, bugs, comments and history."""
    from api.demo import seed_demo as run_seed

    if migrate:
        get_settings().data_dir.mkdir(parents=True, exist_ok=True)
        migrations.upgrade()

    async def go() -> None:
        engine = create_engine(get_settings().effective_database_url)
        try:
            summary = await run_seed(create_sessionmaker(engine), bugs)
        finally:
            await engine.dispose()
        typer.echo(f"seeded {summary.projects} projects and {summary.bugs} bugs; sign in as:")
        for email, password in summary.users.items():
            typer.echo(f"  {email}  {password}")

    try:
        asyncio.run(go())
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


@app.command()
def backup(
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Local file; default: the configured storage"),
    ] = None,
) -> None:
    """Write a consistent, checksummed snapshot of the database and blobs."""
    import shutil
    import tempfile
    from pathlib import Path

    from api.backup import backup as run_backup
    from api.backup import default_backup_name
    from api.main import create_app

    async def go(tmp: Path) -> str:
        application = create_app()
        storage = storage_of(application)
        engine = create_engine(get_settings().effective_database_url)
        try:
            with tmp.open("wb") as fh:
                manifest = await run_backup(engine, storage, fh)
            if output:
                shutil.move(tmp, output)
                where = output
            else:
                where = f"backups/{default_backup_name()}"

                async def chunks() -> AsyncIterator[bytes]:
                    with tmp.open("rb") as fh:
                        while chunk := fh.read(1 << 20):
                            yield chunk

                await storage.put(where, chunks(), "application/gzip")
                where = f"storage:{where}"
        finally:
            await engine.dispose()
            await storage.close()
        rows = sum(manifest["tables"].values())
        return f"backup written to {where}: {rows} rows, {manifest['blobs']} blobs"

    with tempfile.TemporaryDirectory() as d:
        typer.echo(asyncio.run(go(Path(d) / "backup.tar.gz")))


@app.command()
def restore(
    source: Annotated[str, typer.Argument(help="A backup file, or storage:backups/<name>")],
) -> None:
    """Load a backup into an empty instance (migrate it to the backup's revision first)."""
    import tempfile
    from pathlib import Path

    from api.backup import BackupError
    from api.backup import restore as run_restore
    from api.main import create_app

    async def go(tmp: Path) -> str:
        application = create_app()
        storage = storage_of(application)
        engine = create_engine(get_settings().effective_database_url)
        try:
            path = Path(source)
            if source.startswith("storage:"):
                with tmp.open("wb") as fh:
                    async for chunk in storage.get(source.removeprefix("storage:")):
                        fh.write(chunk)
                path = tmp
            manifest = await run_restore(engine, storage, path)
        finally:
            await engine.dispose()
            await storage.close()
        return f"restored {sum(manifest['tables'].values())} rows and {manifest['blobs']} blobs"

    with tempfile.TemporaryDirectory() as d:
        try:
            typer.echo(asyncio.run(go(Path(d) / "backup.tar.gz")))
        except BackupError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc


@app.command()
def openapi(
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="File (default stdout)")
    ] = None,
) -> None:
    """Write the OpenAPI document the API serves."""
    import json

    from api.main import create_app

    text = json.dumps(create_app().openapi(), indent=2, sort_keys=False) + "\n"
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        typer.echo(text, nl=False)


def main() -> None:
    app()
