"""Fixtures for the API tests: a real database, an app per test, nothing kept between tests.

`--db` (or NIMBUS_TEST_DB) picks the database the fixtures give: `postgres` (the default), a
database per xdist worker in which each test is one rolled-back transaction; or `sqlite`, the
embedded default, a migrated file per test used as `nimbus serve` uses it (its own engine,
requests that really commit), since rolling back SQLite's transactions from the outside would
hide the very driver behaviour (no BEGIN before the first write) that bites there."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from api import migrations
from api.config import Settings
from api.db import create_engine, create_sessionmaker
from api.main import create_app
from api.models import Role, User
from api.security import create_access_token, hash_password
from api.storage import S3Storage
from tests.executor.docker_engine import Engine, acquire_engine
from tests.support.postgres import Cluster, start_cluster
from tests.support.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedS3, start_seaweed

# Sandbox and live-server fixtures, shared by the behaviour suites and the attack suite
# (tests/security): plugins, so each session-scoped one exists once per run.
pytest_plugins = ["tests.executor.fixtures", "tests.jobs.fixtures"]

DOCKER_FIXTURES = {"docker_engine"}


DATABASES = ("postgres", "sqlite")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=DATABASES,
        default=os.environ.get("NIMBUS_TEST_DB") or "postgres",
        help="the database the db fixtures give: postgres (default) or sqlite; a sqlite run "
        "selects only the tests that take their database from these fixtures "
        "(default: $NIMBUS_TEST_DB, else postgres)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--db") not in DATABASES:
        raise pytest.UsageError(f"NIMBUS_TEST_DB must be one of {', '.join(DATABASES)}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that needs the Docker engine `docker`, however indirectly it asks.

    `make test` runs the other tests in parallel (pytest-xdist) and these in one process: one
    private dockerd owns its data root, so two workers must never each start one.
    """
    for item in items:
        if DOCKER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.docker)
    _give_fuzz_items_their_own_ids(items)
    seen: set[str] = set()
    duplicates = {item.nodeid for item in items if item.nodeid in seen or seen.add(item.nodeid)}
    if duplicates:  # pytest-xdist keys work by node id: all but one of each would never run
        raise pytest.UsageError(f"tests share node ids: {sorted(duplicates)}")
    if config.getoption("--db") == "sqlite":
        _only_tests_on_the_database_fixtures(config, items)


def _only_tests_on_the_database_fixtures(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A SQLite pass reruns what gets its database from `database_url` and what depends on it.

    The rest would do the same thing twice: tests that touch no database, tests that make
    their own SQLite file (they run on SQLite in every pass), tests that ask for `pg_cluster`
    themselves, and those marked `postgres_only` (each says why it cannot run on SQLite)."""
    keep, drop = [], []
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        on_fixtures = "database_url" in names and "pg_cluster" not in names
        if on_fixtures and item.get_closest_marker("postgres_only") is None:
            keep.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _give_fuzz_items_their_own_ids(items: list[pytest.Item]) -> None:
    """Schemathesis names one item per API operation (``test[GET /x]``), but on pytest 9 every
    item's node id is the bare function's, so pytest-xdist ran one operation and dropped the
    rest without a word. Derive the id from the name, as pytest does for its own items."""
    for item in items:
        if type(item).__name__ == "SchemathesisFunction" and not item.nodeid.endswith("]"):
            # pytest 9 derives `nodeid` from the structured `_id`
            item._id = type(item._id).parse(f"{item.parent.nodeid}::{item.name}")  # type: ignore[union-attr]


TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Engine]:
    """One Docker engine for the whole run (a private dockerd when none answers)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.fail(
            "tests marked docker run in one process (`pytest -m docker`, without -n): parallel "
            "workers would each start a dockerd on the same data root",
            pytrace=False,
        )
    try:
        engine = acquire_engine()
    except RuntimeError as exc:
        pytest.fail(f"no usable Docker engine: {exc}", pytrace=False)
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture(scope="session")
def test_database(pytestconfig: pytest.Config) -> str:
    """`postgres` or `sqlite`: what `database_url`, `engine` and the fixtures on them give."""
    return str(pytestconfig.getoption("--db"))


@pytest.fixture(scope="session")
def pg_database_url(pg_cluster: Cluster) -> str:
    """A database per test worker, migrated once with the real Alembic migrations."""
    name = f"nimbus_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    pg_cluster.psql(f"CREATE DATABASE {name}")
    url = pg_cluster.url(name)
    migrations.upgrade(url)
    return url


@pytest.fixture(scope="session")
async def pg_engine(pg_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(pg_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where the SQLite test files live: in memory (/dev/shm) when the machine has it.

    Same files, same WAL, same locks; only the fsync at each commit is free, and a test
    commits often: the SQLite pass took ~1.6x as long on disk."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path_factory.mktemp("sqlite")
        return
    path = Path(tempfile.mkdtemp(prefix="nimbus-tests-", dir=shm))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def sqlite_template(sqlite_dir: Path) -> Path:
    """One migrated SQLite file per test worker, copied for each test (copying is far faster
    than migrating)."""
    path = sqlite_dir / "template.db"
    migrations.upgrade(sqlite_url(path))
    return path


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def database_url(request: pytest.FixtureRequest, test_database: str) -> Iterator[str]:
    """PostgreSQL: the worker's database (each test rolls back). SQLite: a fresh file."""
    if test_database == "postgres":
        yield str(request.getfixturevalue("pg_database_url"))
        return
    template: Path = request.getfixturevalue("sqlite_template")
    path = template.with_name(f"test-{uuid.uuid4().hex}.db")
    shutil.copyfile(template, path)
    try:
        yield sqlite_url(path)
    finally:
        for leftover in (
            path,
            path.with_name(f"{path.name}-wal"),
            path.with_name(f"{path.name}-shm"),
        ):
            leftover.unlink(missing_ok=True)


@pytest.fixture
def engine(request: pytest.FixtureRequest, test_database: str) -> AsyncEngine:
    engine: AsyncEngine = request.getfixturevalue(
        "pg_engine" if test_database == "postgres" else "sqlite_engine"
    )
    return engine


@pytest.fixture
async def sqlite_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The test's own file, through the engine `nimbus serve` would make for it."""
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine, test_database: str) -> AsyncIterator[AsyncConnection]:
    """PostgreSQL: everything a test writes happens inside this transaction and is rolled back
    after it. SQLite: a plain connection to the test's own file."""
    async with engine.connect() as conn:
        if test_database == "sqlite":
            yield conn
            return
        transaction = await conn.begin()
        try:
            yield conn
        finally:
            await transaction.rollback()


@pytest.fixture
def sessionmaker(
    request: pytest.FixtureRequest, test_database: str, engine: AsyncEngine
) -> async_sessionmaker[AsyncSession]:
    if test_database == "sqlite":  # sessions of their own that commit, as in production
        return create_sessionmaker(engine)
    # Each request's commit releases a savepoint inside the test's transaction.
    return async_sessionmaker(
        bind=request.getfixturevalue("connection"),
        expire_on_commit=False,
        autoflush=False,
        join_transaction_mode="create_savepoint",
    )


@pytest.fixture
async def db(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for arranging and asserting on database state directly."""
    async with sessionmaker() as session:
        yield session


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        env="dev",
        secret_key=TEST_SECRET,
        data_dir=tmp_path / "data",
        database_url=database_url,
        executor_backend="off",
        spa_dir=tmp_path / "no-spa",
        # Tests register from one ASGI client address, some committing beyond their
        # transaction: the per-client cap is tested on its own (tests/security).
        registration_max_per_client=1000,
    )


@pytest.fixture
def app(
    settings: Settings, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> FastAPI:
    app = create_app(settings)
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


MakeUser = Callable[..., Awaitable[User]]


@pytest.fixture
def make_user(db: AsyncSession) -> MakeUser:
    counter = iter(range(1, 1_000_000))

    async def make(role: Role = Role.tester, **fields: Any) -> User:
        n = next(counter)
        user = User(
            email=fields.pop("email", f"user{n}@example.com"),
            full_name=fields.pop("full_name", f"User {n}"),
            password_hash=await hash_password(fields.pop("password", PASSWORD)),
            role=role,
            **fields,
        )
        db.add(user)
        await db.commit()
        return user

    return make


def auth_headers(user: User) -> dict[str, str]:
    assert user.id is not None
    token = create_access_token(user.id, TEST_SECRET, 900).token
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def admin(make_user: MakeUser) -> User:
    return await make_user(Role.admin, full_name="Ada Admin")


@pytest.fixture
async def developer(make_user: MakeUser) -> User:
    return await make_user(Role.developer, full_name="Dev Eloper")


@pytest.fixture
async def tester(make_user: MakeUser) -> User:
    return await make_user(Role.tester, full_name="Tess Tester")


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedS3]:
    server = start_seaweed()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def s3_storage(seaweed: SeaweedS3) -> AsyncIterator[S3Storage]:
    """A fresh bucket per test on the real S3 server."""

    storage = S3Storage(
        f"t-{uuid.uuid4().hex[:12]}",
        endpoint_url=seaweed.endpoint_url,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
    )
    s3 = await storage._s3()
    await s3.create_bucket(Bucket=storage.bucket)
    yield storage
    await storage.close()
