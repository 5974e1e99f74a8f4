"""A bounded HTTP load generator for a live Nimbus (httpx + asyncio), with a lost-write audit.

Virtual users run a realistic mix in a closed loop — browse and search bugs, file and transition
bugs, comment, record expenses and read their totals, run small jobs — for a fixed time. Every
write the server acknowledged (2xx) is recorded and afterwards looked up in the database directly.
The generator asserts nothing; it returns what it saw.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from executor.image.build import DEFAULT_TAG
from tests.support.server import nimbus_env, start_server

PASSWORD = "quokka-harbour-71-lantern"  # strong: the password policy refuses "load"
WORDS = ("crash", "timeout", "invoice", "login", "slow", "blank", "export", "upload")
# group → weight of the actions the virtual users pick from
MIX = {
    "browse": 28,
    "search": 14,
    "bug_create": 14,
    "bug_transition": 12,
    "comment": 8,
    "expense_create": 12,
    "expense_summary": 4,
    "job": 8,
}
TERMINAL_JOB = {
    "succeeded",
    "failed",
    "timed_out",
    "memory_exceeded",
    "output_exceeded",
    "cancelled",
    "error",
}


def percentile(samples: list[float], q: int) -> float:
    if not samples:
        return float("nan")
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


@dataclass
class GroupStats:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    def summary(self, duration_s: float) -> dict[str, Any]:
        ok = sum(n for s, n in self.statuses.items() if s < 400)
        return {
            "requests": sum(self.statuses.values()),
            "ok": ok,
            "per_s": sum(self.statuses.values()) / duration_s,
            "p50_ms": percentile(self.latencies_ms, 50),
            "p99_ms": percentile(self.latencies_ms, 99),
            "4xx": sum(n for s, n in self.statuses.items() if 400 <= s < 500),
            "5xx": sum(n for s, n in self.statuses.items() if s >= 500),
        }


@dataclass
class Writes:
    """Every write the server acknowledged, with what the database must show for it."""

    bugs: set[int] = field(default_factory=set)
    bug_status: dict[int, str] = field(default_factory=dict)  # after an acknowledged transition
    comments: set[int] = field(default_factory=set)
    expenses: dict[int, str] = field(default_factory=dict)  # id → amount
    jobs: dict[str, str] = field(default_factory=dict)  # id → expected stdout

    def counts(self) -> dict[str, int]:
        return {
            "bugs": len(self.bugs),
            "transitions": len(self.bug_status),
            "comments": len(self.comments),
            "expenses": len(self.expenses),
            "jobs": len(self.jobs),
        }


@dataclass
class Failure:
    group: str
    status: int | None  # None: no response (connection error or timeout)
    detail: str
    content_type: str = ""
    code: str | None = None


@dataclass
class LoadResult:
    duration_s: float
    concurrency: int
    groups: dict[str, GroupStats]
    writes: Writes
    failures: list[Failure]  # every 5xx and every request without a response

    @property
    def requests(self) -> int:
        return sum(sum(g.statuses.values()) for g in self.groups.values())

    @property
    def server_errors(self) -> list[Failure]:
        return [f for f in self.failures if f.status is not None and f.status >= 500]

    @property
    def no_response(self) -> list[Failure]:
        return [f for f in self.failures if f.status is None]

    def table(self) -> dict[str, dict[str, Any]]:
        out = {name: g.summary(self.duration_s) for name, g in sorted(self.groups.items())}
        every = GroupStats()
        for g in self.groups.values():
            every.latencies_ms += g.latencies_ms
            every.statuses.update(g.statuses)
        out["all"] = every.summary(self.duration_s)
        return out


@dataclass
class Actor:
    user_id: int
    headers: dict[str, str]
    own_bugs: dict[int, str] = field(default_factory=dict)  # id → status as last acknowledged


@dataclass
class Workspace:
    """What the load runs against: a project, its member developers, an expense category."""

    project_id: int
    project_key: str
    category_id: int
    actors: list[Actor]
    admin_headers: dict[str, str]


async def _token(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    r = await client.post("/auth/token", data={"username": email, "password": PASSWORD})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def prepare(api: str, users: int, seed_bugs: int = 60) -> Workspace:
    """Register the first account (the admin), a project, `users` developers and some bugs."""
    tag = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(base_url=api, timeout=30) as c:
        admin_email = f"admin-{tag}@example.com"
        r = await c.post(
            "/auth/register",
            json={"email": admin_email, "password": PASSWORD, "full_name": "Load Admin"},
        )
        r.raise_for_status()
        admin = await _token(c, admin_email)
        key = f"L{tag[:4].upper()}"
        r = await c.post("/projects", json={"key": key, "name": f"Load {tag}"}, headers=admin)
        r.raise_for_status()
        project_id = r.json()["id"]
        r = await c.get("/expense-categories", params={"limit": 200}, headers=admin)
        r.raise_for_status()
        category_id = r.json()["items"][0]["id"]
        actors = []
        for n in range(users):
            email = f"dev{n}-{tag}@example.com"
            r = await c.post(
                "/users",
                json={
                    "email": email,
                    "password": PASSWORD,
                    "full_name": f"Dev {n}",
                    "role": "developer",
                },
                headers=admin,
            )
            r.raise_for_status()
            user_id = r.json()["id"]
            (
                await c.put(f"/projects/{project_id}/members/{user_id}", headers=admin)
            ).raise_for_status()
            actors.append(Actor(user_id, await _token(c, email)))
        for n in range(seed_bugs):
            r = await c.post(
                f"/projects/{project_id}/bugs",
                json=_bug_body(n),
                headers=actors[n % len(actors)].headers,
            )
            r.raise_for_status()
    return Workspace(project_id, key, category_id, actors, admin)


def _bug_body(n: int) -> dict[str, Any]:
    a, b = WORDS[n % len(WORDS)], WORDS[(n // 3) % len(WORDS)]
    return {
        "title": f"{a.title()} {b} under load #{n}",
        "description": f"Seen while {a} and {b} happened together ({n}).",
        "priority": ("low", "medium", "high")[n % 3],
        "labels": [("ui", "backend", "regression")[n % 3]],
    }


class _Run:
    def __init__(self, client: httpx.AsyncClient, ws: Workspace, jobs: bool) -> None:
        self.client = client
        self.ws = ws
        self.groups: dict[str, GroupStats] = {}
        self.writes = Writes()
        self.failures: list[Failure] = []
        self.counter = 0
        mix = {k: v for k, v in MIX.items() if jobs or k != "job"}
        self.names = list(mix)
        self.weights = list(mix.values())

    async def call(self, group: str, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        stats = self.groups.setdefault(group, GroupStats())
        started = time.perf_counter()
        try:
            r = await self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.failures.append(Failure(group, None, f"{method} {url}: {exc!r}"))
            return None
        stats.latencies_ms.append((time.perf_counter() - started) * 1000)
        stats.statuses[r.status_code] += 1
        content_type = r.headers.get("content-type", "")
        problem = r.json() if content_type == "application/problem+json" else None
        if r.status_code >= 500:
            code = problem.get("code") if problem else None
            self.failures.append(
                Failure(group, r.status_code, f"{method} {url}: {r.text[:300]}", content_type, code)
            )
        if problem and problem.get("instance") != r.request.url.path:
            # an answer that names another request's path: responses crossed on a connection
            self.failures.append(
                Failure(group, None, f"{method} {r.request.url.path} answered for {problem}")
            )
        return r

    async def act(self, actor: Actor, rng: random.Random) -> None:
        action = rng.choices(self.names, self.weights)[0]
        await getattr(self, action)(actor, rng)

    async def browse(self, actor: Actor, rng: random.Random) -> None:
        params = {"status": "open", "sort": "-priority", "limit": 50}
        r = await self.call(
            "browse",
            "GET",
            f"/projects/{self.ws.project_id}/bugs",
            params=params,
            headers=actor.headers,
        )
        if r is not None and r.status_code == 200 and r.json()["items"]:
            key = rng.choice(r.json()["items"])["key"]
            await self.call("browse", "GET", f"/bugs/{key}", headers=actor.headers)

    async def search(self, actor: Actor, rng: random.Random) -> None:
        params = {"q": rng.choice(WORDS), "limit": 50}
        await self.call("search", "GET", "/bugs", params=params, headers=actor.headers)

    async def bug_create(self, actor: Actor, rng: random.Random) -> None:
        self.counter += 1
        r = await self.call(
            "bug_create",
            "POST",
            f"/projects/{self.ws.project_id}/bugs",
            json=_bug_body(self.counter),
            headers=actor.headers,
        )
        if r is not None and r.status_code == 201:
            bug_id = r.json()["id"]
            self.writes.bugs.add(bug_id)
            actor.own_bugs[bug_id] = "open"

    async def bug_transition(self, actor: Actor, rng: random.Random) -> None:
        movable = [b for b, s in actor.own_bugs.items() if s in ("open", "in_progress")]
        if not movable:
            return await self.bug_create(actor, rng)
        bug_id = rng.choice(movable)
        if actor.own_bugs[bug_id] == "open":
            body: dict[str, Any] = {"to": "in_progress"}
        elif rng.random() < 0.5:
            body = {"to": "resolved", "resolution": "fixed", "comment": "Fixed under load"}
        else:
            body = {"to": "open"}
        r = await self.call(
            "bug_transition",
            "POST",
            f"/bugs/{bug_id}/transitions",
            json=body,
            headers=actor.headers,
        )
        if r is not None and r.status_code == 200:
            actor.own_bugs[bug_id] = body["to"]
            self.writes.bug_status[bug_id] = body["to"]
        elif r is None or r.status_code >= 500:
            # it may or may not have happened: stop moving this bug and checking its status
            actor.own_bugs[bug_id] = "unknown"
            self.writes.bug_status.pop(bug_id, None)
        return None

    async def comment(self, actor: Actor, rng: random.Random) -> None:
        if not actor.own_bugs:
            return await self.bug_create(actor, rng)
        bug_id = rng.choice(list(actor.own_bugs))
        r = await self.call(
            "comment",
            "POST",
            f"/bugs/{bug_id}/comments",
            json={"body": f"Still seeing this ({rng.randrange(10**6)})"},
            headers=actor.headers,
        )
        if r is not None and r.status_code == 201:
            self.writes.comments.add(r.json()["id"])
        return None

    async def expense_create(self, actor: Actor, rng: random.Random) -> None:
        amount = f"{rng.randrange(1, 100_000) / 100:.2f}"
        body = {
            "amount": amount,
            "currency": rng.choice(("EUR", "USD")),
            "category_id": self.ws.category_id,
            "description": "Load test lunch",
            "spent_on": date.today().isoformat(),
            "project_id": self.ws.project_id,
        }
        headers = {**actor.headers, "Idempotency-Key": uuid.uuid4().hex}
        r = await self.call("expense_create", "POST", "/expenses", json=body, headers=headers)
        if r is not None and r.status_code == 201:
            self.writes.expenses[r.json()["id"]] = amount

    async def expense_summary(self, actor: Actor, rng: random.Random) -> None:
        params = {"group_by": rng.choice(("category", "month", "project"))}
        await self.call(
            "expense_summary", "GET", "/expenses/summary", params=params, headers=actor.headers
        )

    async def job(self, actor: Actor, rng: random.Random) -> None:
        n = rng.randrange(10**6)
        r = await self.call(
            "job",
            "POST",
            "/jobs",
            params={"wait": 10},
            json={"source": f"print({n})"},
            headers=actor.headers,
        )
        if r is not None and r.status_code in (200, 202):
            self.writes.jobs[r.json()["id"]] = f"{n}\n"


async def run_load(
    api: str,
    ws: Workspace,
    duration_s: float,
    *,
    jobs: bool = True,
    seed: int = 8,
    timeout_s: float = 30,
) -> LoadResult:
    """Each actor runs the mix back to back (closed loop) until `duration_s` has passed.
    A request unanswered after `timeout_s` counts as a failure without a status (a hang)."""
    limits = httpx.Limits(max_connections=len(ws.actors) + 4)
    async with httpx.AsyncClient(base_url=api, timeout=timeout_s, limits=limits) as client:
        run = _Run(client, ws, jobs)
        started = time.perf_counter()
        deadline = started + duration_s

        async def lane(actor: Actor, lane_seed: int) -> None:
            rng = random.Random(lane_seed)
            while time.perf_counter() < deadline:
                await run.act(actor, rng)

        await asyncio.gather(*(lane(a, seed * 1000 + i) for i, a in enumerate(ws.actors)))
        elapsed = time.perf_counter() - started
    return LoadResult(elapsed, len(ws.actors), run.groups, run.writes, run.failures)


@dataclass
class Audit:
    missing: list[str]  # acknowledged writes the database does not show
    job_statuses: Counter[str]
    wrong_output: list[str]


async def audit(dsn: str, writes: Writes, jobs_settle_s: float = 60) -> Audit:
    """Look every acknowledged write up in the database (asyncpg, not through the API)."""
    conn = await asyncpg.connect(dsn.replace("postgresql+asyncpg://", "postgresql://"))
    missing: list[str] = []
    try:
        rows = await conn.fetch(
            "SELECT id, status FROM bug WHERE id = ANY($1)",
            list(writes.bugs | set(writes.bug_status)),
        )
        status = {r["id"]: r["status"] for r in rows}
        missing += [f"bug {b}" for b in writes.bugs if b not in status]
        missing += [
            f"bug {b}: status {status.get(b)}, acknowledged {s}"
            for b, s in writes.bug_status.items()
            if status.get(b) != s
        ]
        found = {
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM comment WHERE id = ANY($1)", list(writes.comments)
            )
        }
        missing += [f"comment {c}" for c in writes.comments - found]
        rows = await conn.fetch(
            "SELECT id, amount FROM expense WHERE id = ANY($1)", list(writes.expenses)
        )
        amounts = {r["id"]: f"{r['amount']:.2f}" for r in rows}
        missing += [
            f"expense {e}: {amounts.get(e)} != {a}"
            for e, a in writes.expenses.items()
            if amounts.get(e) != a
        ]
        job_ids = [uuid.UUID(j) for j in writes.jobs]
        deadline = time.monotonic() + jobs_settle_s
        while True:  # jobs acknowledged with 202 may still be queued: let them finish
            rows = await conn.fetch(
                "SELECT id, status, stdout FROM job WHERE id = ANY($1)", job_ids
            )
            if all(r["status"] in TERMINAL_JOB for r in rows) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        seen = {str(r["id"]): r for r in rows}
        missing += [f"job {j}" for j in writes.jobs if j not in seen]
        wrong = [
            f"job {j}: {r['status']} {r['stdout']!r}"
            for j, r in seen.items()
            if r["status"] == "succeeded" and r["stdout"] != writes.jobs[j]
        ]
        return Audit(missing, Counter(r["status"] for r in rows), wrong)
    finally:
        await conn.close()


@dataclass
class LiveLoad:
    result: LoadResult
    audit: Audit
    server_log_tail: str


async def live_load(
    database_url: str,
    data_dir: Path,
    duration_s: float,
    *,
    users: int = 8,
    docker_host: str | None = None,
    sandbox_image: str | None = None,
) -> LiveLoad:
    """Start `nimbus serve` on `database_url` (migrating it), load it, audit the writes, stop it.

    With `docker_host` the server's in-process worker runs the jobs in that engine's warm pool;
    without it the mix has no jobs.
    """
    sandbox: dict[str, str] = {"executor_backend": "off"}
    if docker_host is not None:
        sandbox = {
            "executor_backend": "docker",
            "docker_host": docker_host,
            "sandbox_image": sandbox_image or DEFAULT_TAG,
            "worker_reap_on_start": "false",  # the engine may be shared with other pools
        }
    env = nimbus_env(
        data_dir,
        database_url=database_url,
        job_submit_rate_per_minute="100000",
        job_max_active_per_user="100",
        **sandbox,
    )
    server = await asyncio.to_thread(start_server, env)
    try:
        ws = await prepare(server.api, users)
        result = await run_load(server.api, ws, duration_s, jobs=docker_host is not None)
        checked = await audit(database_url, result.writes)
    finally:
        await asyncio.to_thread(server.stop)
    return LiveLoad(result, checked, server.log_tail())
