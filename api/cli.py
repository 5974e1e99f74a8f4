"""The `nimbus` command: serve, migrate, create-admin."""

from __future__ import annotations

import asyncio
import getpass
import logging
from typing import Annotated

import typer
import uvicorn

from api import migrations
from api.config import get_settings
from api.db import create_engine, create_sessionmaker
from api.errors import AppError
from api.models import Role

app = typer.Typer(help="Nimbus: bug tracker, expense tracker and sandboxed code runner.")


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
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if migrate if migrate is not None else settings.is_sqlite:
        migrations.upgrade()
    uvicorn.run(
        "api.app:app",
        host=host or settings.host,
        port=port or settings.port,
        proxy_headers=True,
        log_level=settings.log_level.lower(),
    )


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
) -> None:
    """Fill an empty instance with demo users, projects, bugs, comments and history."""
    from api.demo import seed_demo as run_seed

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
