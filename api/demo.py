"""`nimbus seed-demo`: a living tracker for newcomers, and bulk data for benchmarks.

The first bugs go through the real services (so they carry comments, transitions and history);
beyond `DETAILED_BUGS`, bugs are bulk-inserted in batches, which is how `--bugs 1000000` stays
minutes rather than hours.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from api.auth.service import create_user
from api.bugs import service as bugs
from api.bugs.activity import ACTOR_KEY
from api.bugs.schemas import BugCreate, CommentCreate, TransitionRequest
from api.db import utcnow
from api.models import (
    Bug,
    BugLabel,
    BugStatus,
    Priority,
    Project,
    ProjectMember,
    Resolution,
    Role,
    Severity,
    User,
)

DETAILED_BUGS = 300
BATCH = 5_000

AREAS = [
    "login",
    "checkout",
    "search",
    "dashboard",
    "invoice export",
    "settings page",
    "API client",
    "file upload",
    "notifications",
    "password reset",
    "report builder",
    "mobile layout",
]
SYMPTOMS = [
    "crashes",
    "is slow",
    "shows the wrong total",
    "ignores the filter",
    "times out",
    "loses unsaved changes",
    "renders blank",
    "returns 500",
    "double-submits",
    "mis-sorts dates",
]
CONTEXTS = [
    "on Safari",
    "for new users",
    "after an upgrade",
    "with a long name",
    "under load",
    "when offline",
    "in dark mode",
    "with non-ASCII input",
    "on the second page",
    "at midnight UTC",
]
LABELS = ["ui", "backend", "regression", "performance", "security", "docs", "flaky", "customer"]
COMMENTS = [
    "I can reproduce this on main.",
    "Looks related to the last deploy.",
    "Added a failing test, fix incoming.",
    "Could not reproduce with the sample data.",
    "Workaround: reload the page.",
    "This also affects the CSV export.",
]
PROJECTS = [
    ("WEB", "Website", "The public site and the customer portal"),
    ("API", "Public API", "REST API and the generated clients"),
    ("OPS", "Operations", "Deployments, monitoring and backups"),
]


@dataclass
class DemoSummary:
    users: dict[str, str]  # email -> password
    projects: int
    bugs: int


async def seed_demo(
    sessionmaker: async_sessionmaker[AsyncSession],
    bugs_wanted: int,
    seed: int = 7,
    *,
    detailed_bugs: int = DETAILED_BUGS,
    batch: int = BATCH,
) -> DemoSummary:
    rng = random.Random(seed)  # noqa: S311 - demo content, not secrets
    async with sessionmaker() as session, session.begin():
        if await session.scalar(select(func.count()).select_from(Project)):
            raise ValueError("seed-demo fills an empty instance; this one already has projects")
        people, passwords = await _people(session)
        projects = await _projects(session, people)
    detailed = min(bugs_wanted, detailed_bugs)
    for i in range(detailed):
        async with sessionmaker() as session, session.begin():
            await _detailed_bug(session, rng, people, projects[i % len(projects)], i)
    if bugs_wanted > detailed:
        await _bulk_bugs(sessionmaker, rng, people, projects, bugs_wanted - detailed, batch)
    return DemoSummary(passwords, len(projects), bugs_wanted)


async def _people(session: AsyncSession) -> tuple[dict[Role, list[User]], dict[str, str]]:
    roster = [
        ("admin", "Ada Admin", Role.admin),
        ("dev1", "Dev Alvarez", Role.developer),
        ("dev2", "Dev Okafor", Role.developer),
        ("dev3", "Dev Lindqvist", Role.developer),
        ("tester1", "Tess Nakamura", Role.tester),
        ("tester2", "Tom Rossi", Role.tester),
    ]
    people: dict[Role, list[User]] = {role: [] for role in Role}
    passwords: dict[str, str] = {}
    for handle, name, role in roster:
        email = f"{handle}@demo.nimbus.test"
        password = secrets.token_urlsafe(12)
        people[role].append(
            await create_user(session, email=email, password=password, full_name=name, role=role)
        )
        passwords[email] = password
    return people, passwords


async def _projects(session: AsyncSession, people: dict[Role, list[User]]) -> list[Project]:
    projects = []
    for key, name, description in PROJECTS:
        project = Project(key=key, name=name, description=description)
        session.add(project)
        await session.flush()
        assert project.id is not None
        for user in people[Role.developer] + people[Role.tester]:
            assert user.id is not None
            session.add(ProjectMember(project_id=project.id, user_id=user.id))
        projects.append(project)
    await session.flush()
    return projects


def _title(rng: random.Random) -> str:
    return f"{rng.choice(AREAS).capitalize()} {rng.choice(SYMPTOMS)} {rng.choice(CONTEXTS)}"


async def _detailed_bug(
    session: AsyncSession,
    rng: random.Random,
    people: dict[Role, list[User]],
    project: Project,
    i: int,
) -> None:
    reporter = rng.choice(people[Role.tester] + people[Role.developer])
    developer = rng.choice(people[Role.developer])
    tester = rng.choice(people[Role.tester])
    session.info[ACTOR_KEY] = reporter.id
    data = BugCreate(
        title=_title(rng),
        description=f"Steps to reproduce:\n\n1. Open the {rng.choice(AREAS)}\n2. Try again\n\n"
        "**Expected:** it works.\n**Actual:** it does not.",
        priority=rng.choice(list(Priority)).name,
        severity=rng.choice(list(Severity)),
        labels=rng.sample(LABELS, rng.randint(0, 3)),
        repro_script="import sys\nprint('checking...')\nsys.exit(1)\n" if i % 7 == 0 else None,
    )
    bug = await bugs.create_bug(session, reporter, project.key, data)
    for _ in range(rng.randint(0, 3)):
        commenter = rng.choice([developer, tester, reporter])
        session.info[ACTOR_KEY] = commenter.id
        await bugs.add_comment(
            session, commenter, str(bug.id), CommentCreate(body=rng.choice(COMMENTS))
        )
    path = rng.choice(["open", "open", "started", "resolved", "closed", "closed"])
    steps: list[tuple[User, TransitionRequest]] = []
    if path != "open":
        steps.append((developer, TransitionRequest(to=BugStatus.in_progress)))
    if path in ("resolved", "closed"):
        steps.append(
            (developer, TransitionRequest(to=BugStatus.resolved, resolution=Resolution.fixed))
        )
    if path == "closed":
        steps.append((tester, TransitionRequest(to=BugStatus.closed)))
    for actor, request in steps:
        session.info[ACTOR_KEY] = actor.id
        await bugs.transition(session, actor, str(bug.id), request, None)


async def _bulk_bugs(
    sessionmaker: async_sessionmaker[AsyncSession],
    rng: random.Random,
    people: dict[Role, list[User]],
    projects: list[Project],
    count: int,
    batch: int,
) -> None:
    reporters = [u.id for u in people[Role.tester] + people[Role.developer]]
    developers = [u.id for u in people[Role.developer]]
    statuses = list(BugStatus)
    start = utcnow() - timedelta(days=365)
    done = 0
    while done < count:
        n = min(batch, count - done)
        async with sessionmaker() as session, session.begin():
            numbers = {}
            for project in projects:
                share = n // len(projects) + (1 if project is projects[0] else 0) * (
                    n % len(projects)
                )
                result = await session.execute(
                    update(Project)
                    .where(col(Project.id) == project.id)
                    .values(bug_counter=col(Project.bug_counter) + share)
                    .returning(col(Project.bug_counter))
                )
                numbers[project.id] = (result.scalar_one() - share, share)
            rows: list[dict[str, Any]] = []
            for project in projects:
                first, share = numbers[project.id]
                for k in range(share):
                    at = start + timedelta(seconds=(done + len(rows)) * 30)
                    status = rng.choice(statuses)
                    rows.append(
                        {
                            "project_id": project.id,
                            "number": first + k + 1,
                            "title": _title(rng),
                            "description": "Bulk demo bug.",
                            "status": status,
                            "resolution": Resolution.fixed
                            if status in ("resolved", "closed")
                            else None,
                            "priority": rng.randint(1, 5),
                            "severity": rng.choice(list(Severity)).value,
                            "reporter_id": rng.choice(reporters),
                            "assignee_id": rng.choice(developers) if rng.random() < 0.6 else None,
                            "version": 1,
                            "created_at": at,
                            "updated_at": at,
                        }
                    )
            ids = (await session.scalars(insert(Bug).returning(col(Bug.id)), rows)).all()
            labels = [
                {"bug_id": bug_id, "label": rng.choice(LABELS)}
                for bug_id in ids
                if rng.random() < 0.5
            ]
            if labels:
                await session.execute(insert(BugLabel), labels)
        done += n
