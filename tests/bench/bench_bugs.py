"""Benchmark: bug list pages and full-text search at 10k and 1M bugs on PostgreSQL.

Prints p50/p95 of (a) the API over HTTP (uvicorn on loopback, one keep-alive connection, the full
request path: auth, visibility, list, batched reads) and (b) the same SQL run directly through
asyncpg: the list query alone, and every statement the request issued (captured from the API,
replayed in one transaction), and the ratios DESIGN.md budgets: p50 at 1M within 2x of p50 at
10k; API p50 within 3x of the direct SQL. (Until session 6 the API was timed through httpx's
in-process ASGI transport, whose client-side work added ~0.4 ms to every sample; until session 7
it ran on asyncio's own loop, not the uvloop that `nimbus serve` uses.)

    uv run python -m tests.bench.bench_bugs                 # 10k and 1M (about 5 minutes)
    uv run python -m tests.bench.bench_bugs --sizes 10000 100000 --runs 50
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event

from api import migrations
from api.config import Settings
from api.db import create_engine, create_sessionmaker
from api.main import create_app
from api.security import create_access_token
from tests.bench.loopback import Client
from tests.support.postgres import Cluster, start_cluster
from tests.support.served import run_like_nimbus_serve, served

SECRET = "bench-secret-key-bench-secret-key-bench"
QUERIES = {
    "list: open, -priority, 50": (
        "/api/v1/projects/WEB/bugs",
        {"status": "open", "sort": "-priority", "limit": 50},
    ),
    "list: all projects, label, -updated_at": (
        "/api/v1/bugs",
        {"label": "regression", "limit": 50},
    ),
    "search: 'crash'": ("/api/v1/bugs", {"q": "crash", "limit": 50}),
    "search: 'invoice timeout'": ("/api/v1/bugs", {"q": "invoice timeout", "limit": 50}),
}

SEED_SQL = """
INSERT INTO user_account (email, full_name, password_hash, role, is_active, email_notifications,
                          version, created_at, updated_at)
SELECT 'u' || i || '@bench.test', 'User ' || i, 'x', CASE WHEN i % 2 = 0 THEN 'developer' ELSE 'tester' END,
       true, true, 1, now(), now()
FROM generate_series(1, 20) i;
INSERT INTO project (key, name, description, bug_counter, version, created_at, updated_at)
VALUES ('WEB', 'Web', '', 0, 1, now(), now()), ('API', 'Api', '', 0, 1, now(), now());
INSERT INTO project_member (project_id, user_id, created_at)
SELECT p.id, u.id, now() FROM project p CROSS JOIN user_account u;
INSERT INTO bug (project_id, number, title, description, status, resolution, priority, severity,
                 reporter_id, assignee_id, version, created_at, updated_at)
SELECT 1 + i % 2, i / 2 + 1,
       (ARRAY['Login','Checkout','Search','Invoice export','Dashboard','Upload','Settings','Reports'])[1 + i % 8]
       || ' ' || (ARRAY['crashes','is slow','times out','shows wrong totals','renders blank',
                        'returns 500','loses data','mis-sorts','double-submits','hangs'])[1 + (i / 8) % 10]
       || ' case ' || i,
       'Steps to reproduce number ' || i || '. Expected it to work; it did not.',
       (ARRAY['open','in_progress','resolved','closed'])[1 + (i / 3) % 4],
       CASE WHEN (i / 3) % 4 >= 2 THEN 'fixed' END,
       1 + (i * 7) % 5, (ARRAY['trivial','minor','normal','major','critical','blocker'])[1 + i % 6],
       1 + i % 20, CASE WHEN i % 3 = 0 THEN NULL ELSE 2 + 2 * (i % 10) END, 1,
       now() - make_interval(secs => i), now() - make_interval(secs => i)
FROM generate_series(1, :n) i;
UPDATE project p SET bug_counter = (SELECT count(*) FROM bug b WHERE b.project_id = p.id);
INSERT INTO bug_label (bug_id, label)
SELECT id, (ARRAY['ui','backend','regression','performance','security','docs'])[1 + id % 6]
FROM bug WHERE id % 2 = 0;
INSERT INTO comment (bug_id, author_id, body, version, created_at, updated_at)
SELECT id, 1 + id % 20, 'Seen again after deploy ' || id, 1, now(), now() FROM bug WHERE id % 10 = 0;
ANALYZE;
"""


def pct(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q) - 1] if len(samples) > 1 else samples[0]


async def seed(cluster: Cluster, name: str, n: int) -> str:
    cluster.psql(f"CREATE DATABASE {name}")
    url = cluster.url(name)
    await asyncio.to_thread(migrations.upgrade, url)
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        t0 = time.perf_counter()
        await conn.execute(SEED_SQL.replace(":n", str(n)))
        print(f"  seeded {n:,} bugs in {time.perf_counter() - t0:.1f} s")
    finally:
        await conn.close()
    return url


async def measure(
    url: str, runs: int
) -> dict[str, tuple[list[float], list[float], list[float], int]]:
    engine = create_engine(url)
    app = create_app(
        Settings(secret_key=SECRET, database_url=url, data_dir=Path(tempfile.mkdtemp()))
    )
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    token = create_access_token(2, SECRET, 3600).token  # user 2: a developer member
    raw = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    out: dict[str, tuple[list[float], list[float], list[float], int]] = {}
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        captured.append((statement, params))

    try:
        async with served(app) as url:
            client = await Client.connect(url)
            headers = {"Authorization": f"Bearer {token}"}
            for label, (path, params) in QUERIES.items():
                request = Client.request(path, params, headers)
                captured.clear()
                event.listen(engine.sync_engine, "before_cursor_execute", capture)
                status, body = await client.send(request)
                event.remove(engine.sync_engine, "before_cursor_execute", capture)
                assert status == 200, body
                statements = list(captured)
                main_sql = next((s, p) for s, p in statements if "FROM bug" in s and "LIMIT" in s)
                api_ms, main_ms, all_ms = [], [], []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    await client.send(request)
                    api_ms.append((time.perf_counter() - t0) * 1000)
                    t0 = time.perf_counter()
                    await raw.fetch(main_sql[0], *main_sql[1])
                    main_ms.append((time.perf_counter() - t0) * 1000)
                    t0 = time.perf_counter()
                    async with raw.transaction():
                        for sql, sql_params in statements:
                            await raw.fetch(sql, *sql_params)
                    all_ms.append((time.perf_counter() - t0) * 1000)
                out[label] = (api_ms, main_ms, all_ms, len(statements))
            await client.close()
    finally:
        await raw.close()
        await engine.dispose()
    return out


Samples = dict[int, dict[str, tuple[list[float], list[float], list[float], int]]]


async def run(sizes: list[int], runs: int) -> Samples:
    """Per size and query: (API ms, list-SQL ms, all-statements ms, statement count)."""
    cluster = await asyncio.to_thread(start_cluster)
    results: Samples = {}
    try:
        for n in sizes:
            print(f"{n:,} bugs")
            url = await seed(cluster, f"bench_{n}", n)
            results[n] = await measure(url, runs)
            for label, (api, main_sql, all_sql, count) in results[n].items():
                print(
                    f"  {label:40} API p50 {pct(api, 50):5.1f} ms p95 {pct(api, 95):5.1f} | "
                    f"list SQL p50 {pct(main_sql, 50):5.1f} ms | all {count} statements "
                    f"p50 {pct(all_sql, 50):5.1f} ms | API/all-SQL {pct(api, 50) / pct(all_sql, 50):4.1f}x"
                )
    finally:
        await asyncio.to_thread(cluster.stop)
    return results


def summary(results: Samples) -> dict[str, dict[str, float]]:
    """The budget's numbers per query: p50s at the smallest and largest size, their ratio, and
    the API p50 over the direct-SQL p50 at the largest size."""
    small, large = min(results), max(results)
    out = {}
    for label in QUERIES:
        api_small = pct(results[small][label][0], 50)
        api_large = pct(results[large][label][0], 50)
        sql_large = pct(results[large][label][2], 50)
        out[label] = {
            "api_p50_small_ms": api_small,
            "api_p50_large_ms": api_large,
            "scaling": api_large / api_small,
            "sql_p50_large_ms": sql_large,
            "api_over_sql": api_large / sql_large,
        }
    return out


async def main(sizes: list[int], runs: int) -> None:
    results = await run(sizes, runs)
    small, large = min(sizes), max(sizes)
    if small != large:
        print(f"\nscaling {large:,} vs {small:,} (API p50 ratio; budget <= 2.0x):")
        for label, row in summary(results).items():
            print(f"  {label:42} {row['scaling']:4.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    run_like_nimbus_serve(main(args.sizes, args.runs))  # the direct-SQL baseline shares the loop
