"""The generated Python client (openapi-python-client), sync and async, against a live server.

The client is generated from the document the code serves (see generate.py), and it is strict
here: an undocumented status raises `UnexpectedStatus`, a missing required field or an unknown
enum value fails parsing, and a field the server sends but the document does not declare fails
`assert_documented`. So when the document is wrong, this test fails.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import AsyncIterator
from datetime import date
from types import ModuleType
from typing import Any

import attrs
import pytest

from tests.clients.conftest import LiveServer
from tests.clients.generate import PACKAGE, ensure_client

PASSWORD = "correct horse battery"
REPORT = "import os\nos.makedirs('out')\nopen('out/report.txt', 'w').write('done')\n"


@pytest.fixture(scope="session")
def nimbus_client() -> ModuleType:
    """The generated package, regenerated first when the API's document changed."""
    path = str(ensure_client())
    if path not in sys.path:
        sys.path.insert(0, path)
    return importlib.import_module(PACKAGE)


@pytest.fixture
async def opened() -> AsyncIterator[list[Any]]:
    """Generated clients to close after the test (each holds a sync and an async pool)."""
    clients: list[Any] = []
    yield clients
    for client in clients:
        client.get_httpx_client().close()
        await client.get_async_httpx_client().aclose()


def assert_documented(value: Any, where: str = "response") -> None:
    """No field in a parsed response is one the document does not declare."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            assert_documented(item, f"{where}[{i}]")
    elif attrs.has(type(value)):
        extra = getattr(value, "additional_properties", {})
        map_type = not any(f.name != "additional_properties" for f in attrs.fields(type(value)))
        assert map_type or not extra, f"{where} has undocumented fields {sorted(extra)}"
        for field in attrs.fields(type(value)):
            if field.name != "additional_properties":
                assert_documented(getattr(value, field.name), f"{where}.{field.name}")


async def test_register_file_a_bug_record_an_expense_and_run_a_job(
    live_server: LiveServer, nimbus_client: ModuleType, opened: list[Any]
) -> None:
    from nimbus_client import AuthenticatedClient, Client
    from nimbus_client.api.auth import auth_register, auth_token
    from nimbus_client.api.bugs import (
        bugs_create,
        bugs_list_project,
        bugs_list_transitions,
        bugs_read,
        bugs_transition,
    )
    from nimbus_client.api.categories import categories_create_category
    from nimbus_client.api.expenses import expenses_create, expenses_summarize
    from nimbus_client.api.jobs import (
        jobs_create,
        jobs_download_file,
        jobs_list_files,
        jobs_read,
        jobs_stream_events,
    )
    from nimbus_client.api.projects import projects_add_member, projects_create
    from nimbus_client.api.users import users_create
    from nimbus_client.models import (
        BodyAuthToken,
        BugCreate,
        BugPriority,
        BugRead,
        BugStatus,
        CategoryCreate,
        ExpenseCreate,
        ExpenseRead,
        JobCreate,
        JobDetail,
        JobRead,
        JobStatus,
        Problem,
        ProjectCreate,
        ProjectRead,
        RegisterRequest,
        Resolution,
        Role,
        TokenPair,
        TransitionRequest,
        UserCreate,
        UserRead,
        ValidationProblem,
        VersionConflictProblem,
    )

    # Sync: register (the first account is the admin) and sign in with the OAuth2 form.
    anonymous = Client(base_url=live_server.url, raise_on_unexpected_status=True)
    opened.append(anonymous)
    ada = auth_register.sync(
        client=anonymous,
        body=RegisterRequest(email="ada@example.com", password=PASSWORD, full_name="Ada"),
    )
    assert isinstance(ada, UserRead) and ada.role == Role.ADMIN
    pair = auth_token.sync(
        client=anonymous, body=BodyAuthToken(username="ada@example.com", password=PASSWORD)
    )
    assert isinstance(pair, TokenPair) and pair.token_type == "bearer"
    admin = AuthenticatedClient(
        base_url=live_server.url, token=pair.access_token, raise_on_unexpected_status=True
    )
    opened.append(admin)

    # Async from here on: a project, a developer in it, and a bug assigned to them.
    project = await projects_create.asyncio(
        client=admin, body=ProjectCreate(key="WEB", name="Website")
    )
    assert isinstance(project, ProjectRead) and project.key == "WEB"
    dev = await users_create.asyncio(
        client=admin,
        body=UserCreate(
            email="dev@example.com", password=PASSWORD, full_name="Dev", role=Role.DEVELOPER
        ),
    )
    assert isinstance(dev, UserRead) and dev.role == Role.DEVELOPER
    added = await projects_add_member.asyncio_detailed("WEB", dev.id, client=admin)
    assert added.status_code == 201
    bug = await bugs_create.asyncio(
        "WEB",
        client=admin,
        body=BugCreate(
            title="Totals are off by one",
            priority=BugPriority.HIGH,
            labels=["billing"],
            assignee_id=dev.id,
        ),
    )
    assert isinstance(bug, BugRead)
    assert (bug.key, bug.status, bug.priority) == ("WEB-1", BugStatus.OPEN, BugPriority.HIGH)
    assert bug.assignee is not None and bug.assignee.id == dev.id

    # Walk the workflow, with the ETag the API hands out.
    options = await bugs_list_transitions.asyncio(bug.key, client=admin)
    assert options is not None and not options.next_cursor
    assert BugStatus.IN_PROGRESS in {option.to for option in options.items}
    started = await bugs_transition.asyncio_detailed(
        bug.key,
        client=admin,
        body=TransitionRequest(to=BugStatus.IN_PROGRESS),
        if_match=f'"{bug.version}"',
    )
    assert started.status_code == 200 and isinstance(started.parsed, BugRead)
    assert started.parsed.status == BugStatus.IN_PROGRESS
    assert started.headers["etag"] == f'"{started.parsed.version}"'
    stale = bugs_transition.sync_detailed(
        bug.key,
        client=admin,
        body=TransitionRequest(to=BugStatus.RESOLVED, resolution=Resolution.FIXED),
        if_match=f'"{bug.version}"',
    )
    assert stale.status_code == 412 and isinstance(stale.parsed, VersionConflictProblem)
    assert stale.parsed.code == "version_conflict"
    assert stale.parsed.current_version == started.parsed.version  # what to reload
    resolved = bugs_transition.sync(
        bug.key,
        client=admin,
        body=TransitionRequest(to=BugStatus.RESOLVED, resolution=Resolution.FIXED),
        if_match=f'"{started.parsed.version}"',
    )
    assert isinstance(resolved, BugRead) and resolved.resolution == Resolution.FIXED
    page = await bugs_list_project.asyncio("WEB", client=admin, status=[BugStatus.RESOLVED])
    assert page is not None and [b.key for b in page.items] == ["WEB-1"]

    # Typed errors: a 404 and a 422 parse into the problem models.
    missing = bugs_read.sync_detailed("WEB-99", client=admin)
    assert missing.status_code == 404 and isinstance(missing.parsed, Problem)
    assert missing.parsed.code == "bug_not_found"
    invalid = projects_create.sync_detailed(
        client=admin, body=ProjectCreate(key="not a key", name="x")
    )
    assert invalid.status_code == 422 and isinstance(invalid.parsed, ValidationProblem)
    assert invalid.parsed.errors and invalid.parsed.errors[0].loc[-1] == "key"

    # An expense in a category, and the totals.
    category = await categories_create_category.asyncio(
        client=admin, body=CategoryCreate(name="Team lunches")
    )
    expense = await expenses_create.asyncio(
        client=admin,
        body=ExpenseCreate(
            amount="42.50",
            currency="EUR",
            category_id=category.id,
            spent_on=date(2026, 3, 29),
            project_id=project.id,
            description="Team lunch",
        ),
    )
    assert isinstance(expense, ExpenseRead)
    assert (expense.amount, expense.spent_on, expense.project_key) == (
        "42.50",
        date(2026, 3, 29),
        "WEB",
    )
    summary = expenses_summarize.sync(client=admin, group_by="category")
    assert [(r.currency, r.total, r.count) for r in summary.rows] == [("EUR", "42.50", 1)]

    # A job in the sandbox: wait for it, then read its output, its files and its events.
    ran = await jobs_create.asyncio_detailed(
        client=admin,
        body=JobCreate(source=REPORT + "print(input()[::-1])", stdin="hello"),
        wait=20,
    )
    assert ran.status_code == 200, ran.content
    job = ran.parsed
    assert isinstance(job, JobRead)
    assert (job.status, job.exit_code, job.stdout) == (JobStatus.SUCCEEDED, 0, "olleh\n")
    again = jobs_read.sync(job.id, client=admin)
    assert isinstance(again, JobDetail) and again.stdout == "olleh\n"
    assert again.stdin == "hello" and again.source is not None  # what it ran, kept
    files = await jobs_list_files.asyncio(job.id, client=admin)
    assert files is not None and [f.path for f in files.items] == ["out/report.txt"]
    download = jobs_download_file.sync(job.id, "out/report.txt", client=admin)
    assert download.payload.read() == b"done"
    events = jobs_stream_events.sync(job.id, client=admin)
    assert isinstance(events, str) and "event: exit" in events and "olleh" in events

    for parsed in (ada, pair, project, dev, bug, started.parsed, resolved, page, missing.parsed):
        assert_documented(parsed)
    for parsed in (invalid.parsed, category, expense, summary, job, again, files):
        assert_documented(parsed)
