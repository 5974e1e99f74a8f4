"""`nimbus seed-demo` gives a newcomer a living tracker (on PostgreSQL, the real thing)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select, text

from api import migrations
from api.db import create_engine, create_sessionmaker
from api.demo import seed_demo
from api.models import Bug, BugActivity, BugStatus, Comment, Project, Role, User


async def test_seed_demo_fills_an_empty_instance(pg_cluster):
    pg_cluster.psql("CREATE DATABASE demo_seed")
    url = pg_cluster.url("demo_seed")
    await asyncio.to_thread(migrations.upgrade, url)  # Alembic runs its own event loop
    engine = create_engine(url)
    try:
        sessionmaker = create_sessionmaker(engine)
        summary = await seed_demo(sessionmaker, 60 + 1_100, detailed_bugs=60, batch=500)
        async with sessionmaker() as s:
            assert await s.scalar(select(func.count()).select_from(Bug)) == 60 + 1_100
            assert await s.scalar(select(func.count()).select_from(Project)) == 3
            roles = set((await s.scalars(select(User.role))).all())
            assert roles == set(Role)
            assert await s.scalar(select(func.count()).select_from(Comment)) > 20
            assert await s.scalar(select(func.count()).select_from(BugActivity)) > 60
            statuses = set((await s.scalars(select(Bug.status).distinct())).all())
            assert statuses == set(BugStatus)
            # Numbers are unique and dense per project: keys never repeat.
            gaps = await s.scalar(
                text(
                    "SELECT count(*) FROM project p WHERE p.bug_counter <> "
                    "(SELECT count(*) FROM bug b WHERE b.project_id = p.id)"
                )
            )
            assert gaps == 0
        assert len(summary.users) == 6 and all(len(p) >= 12 for p in summary.users.values())
        try:
            await seed_demo(sessionmaker, 1)
        except ValueError as exc:
            assert "empty instance" in str(exc)
        else:
            raise AssertionError("seeding twice must be refused")
    finally:
        await engine.dispose()
        pg_cluster.psql("DROP DATABASE demo_seed")
