"""`make bench`: run the project's benchmarks and write a report against DESIGN.md's budget.

Every ratio compares two numbers measured in the same run, so machine noise mostly cancels.
Writes `report.md` and PNG charts into `--out` (default tests/bench/report/, gitignored):

    uv run python -m tests.bench.report                          # bugs at 10k and 100k
    uv run python -m tests.bench.report --bug-sizes 10000 1000000   # the budget's 1M
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.bench import bench_bugs, bench_hot_reads, bench_jobs, bench_jobs_api, bench_load
from tests.support.load import PASSWORD
from tests.support.postgres import start_cluster
from tests.support.served import run_like_nimbus_serve
from tests.support.server import nimbus_env, start_server

MB = 1024 * 1024
RSS_BUDGET_MB = 150
HOT_READ_BUGS = 100_000


@dataclass
class Check:
    budget: str
    measured: float
    target: float
    at_most: bool  # True: measured <= target passes; False: measured >= target passes
    unit: str = "x"
    note: str = ""

    @property
    def met(self) -> bool:
        return self.measured <= self.target if self.at_most else self.measured >= self.target

    def row(self) -> str:
        sign = "≤" if self.at_most else "≥"
        verdict = "met" if self.met else "**missed**"
        note = f" {self.note}" if self.note else ""
        return (
            f"| {self.budget}{note} | {self.measured:.2f}{self.unit} | "
            f"{sign} {self.target:g}{self.unit} | {verdict} |"
        )


async def idle_rss(settle_s: float = 5.0) -> dict[str, float]:
    """RSS (MB) of real `nimbus serve` processes after start-up, a few requests and a pause:
    the production API alone (PostgreSQL, no in-process worker) and the embedded default."""
    out: dict[str, float] = {}
    cluster = await asyncio.to_thread(start_cluster)
    try:
        cluster.psql("CREATE DATABASE bench_rss")
        variants = {
            "API only (PostgreSQL, workers elsewhere)": {
                "database_url": cluster.url("bench_rss"),
                "executor_in_process": "false",
            },
            "embedded default (SQLite, in-process worker)": {"executor_backend": "auto"},
        }
        for name, settings in variants.items():
            data = Path(tempfile.mkdtemp(prefix="nimbus-bench-rss-"))
            server = await asyncio.to_thread(start_server, nimbus_env(data, **settings))
            try:
                await _warm(server.api)
                await asyncio.sleep(settle_s)
                out[name] = server.rss_bytes() / MB
            finally:
                await asyncio.to_thread(server.stop)
    finally:
        await asyncio.to_thread(cluster.stop)
    return out


async def _warm(api: str) -> None:
    """Touch the usual paths once (auth, lists, search) so the process is warmed up, as an idle
    production process would be."""
    async with httpx.AsyncClient(base_url=api, timeout=30) as c:
        body = {"email": "rss@example.com", "password": PASSWORD, "full_name": "Rss"}
        (await c.post("/auth/register", json=body)).raise_for_status()
        r = await c.post("/auth/token", data={"username": body["email"], "password": PASSWORD})
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        for path in ("/users/me", "/projects", "/bugs", "/bugs?q=crash", "/expenses", "/jobs"):
            (await c.get(path, headers=headers)).raise_for_status()


def checks(
    jobs_api: dict[str, float],
    bugs: dict[str, dict[str, float]],
    sizes: list[int],
    rss: dict[str, float],
    hot: dict[str, dict[str, float]],
) -> list[Check]:
    api_ms = jobs_api["POST /jobs?wait print(1), warm pool (ms)"]
    out = [
        Check(
            "job round trip `POST /jobs?wait` vs bare `docker run --rm`",
            api_ms / jobs_api["docker run --rm, hardened (ms)"],
            0.35,
            True,
        ),
        Check(
            "job round trip vs `python3 -c` in a running container (`docker exec`)",
            api_ms / jobs_api["docker exec python3 -c (ms)"],
            3.0,
            True,
        ),
        Check(
            "job throughput at concurrency 8 vs raw aiodocker create/start/wait/delete",
            jobs_api["POST /jobs?wait, c=8 (jobs/s)"]
            / jobs_api["raw aiodocker create/start/wait/delete, c=8 (jobs/s)"],
            1.0,
            False,
        ),
    ]
    small, large = min(sizes), max(sizes)
    scale_note = "" if large >= 1_000_000 else f"(measured at {large:,}; the budget is 1M)"
    for label, row in bugs.items():
        out.append(
            Check(
                f"{label}: p50 at {large:,} vs {small:,} bugs",
                row["scaling"],
                2.0,
                True,
                note=scale_note,
            )
        )
    for label, row in bugs.items():
        out.append(
            Check(
                f"{label}: API p50 vs the same SQL through asyncpg ({large:,} bugs)",
                row["api_over_sql"],
                3.0,
                True,
            )
        )
    for name, row in hot.items():
        if name != bench_hot_reads.HEALTHZ:
            out.append(
                Check(
                    f"hot read {name}: requests per CPU second vs `/healthz`",
                    row["ratio_cpu"],
                    bench_hot_reads.TARGET_RATIO,
                    False,
                )
            )
    for name, mb in rss.items():
        if name.startswith("API only"):
            out.append(Check(f"idle API process RSS, {name}", mb, RSS_BUDGET_MB, True, unit=" MB"))
    return out


def charts(out: Path, report: dict[str, Any], budget: list[Check]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    # 1. every budget line as measured / target: below 1 is inside the budget (for ≥ targets,
    #    target / measured, so that "left of the line" always means met)
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(budget) + 1.5))
    names = [c.budget if len(c.budget) < 70 else c.budget[:67] + "..." for c in budget]
    values = [
        c.measured / c.target if c.at_most else c.target / max(c.measured, 1e-9) for c in budget
    ]
    colors = ["tab:green" if c.met else "tab:red" for c in budget]
    ax.barh(names[::-1], values[::-1], color=colors[::-1])
    ax.axvline(1.0, color="black", linestyle="--", linewidth=1)
    ax.set_xlabel("share of the budget used (≤ 1 is met)")
    ax.set_title("Performance budget (DESIGN.md)")
    fig.tight_layout()
    fig.savefig(out / "budget.png", dpi=110)
    plt.close(fig)
    made.append("budget.png")

    # 2. job round trip medians
    jobs = {k: v for k, v in report["jobs_api"].items() if k.endswith("(ms)")}
    jobs.update({f"backend: {k}": v for k, v in report["jobs_backend"].items()})
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(jobs) + 1.5))
    ax.barh(list(jobs)[::-1], list(jobs.values())[::-1], color="tab:blue")
    ax.set_xlabel("median ms, print(1)")
    ax.set_title("Job round trip")
    fig.tight_layout()
    fig.savefig(out / "jobs.png", dpi=110)
    plt.close(fig)
    made.append("jobs.png")

    # 3. bug lists: p50 at both sizes and the direct SQL
    bugs = report["bugs"]
    labels = list(bugs)
    x = range(len(labels))
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.27
    sizes = report["bug_sizes"]
    ax.bar(
        [i - width for i in x],
        [bugs[k]["api_p50_small_ms"] for k in labels],
        width,
        label=f"API, {min(sizes):,} bugs",
    )
    ax.bar(
        list(x),
        [bugs[k]["api_p50_large_ms"] for k in labels],
        width,
        label=f"API, {max(sizes):,} bugs",
    )
    ax.bar(
        [i + width for i in x],
        [bugs[k]["sql_p50_large_ms"] for k in labels],
        width,
        label=f"SQL via asyncpg, {max(sizes):,}",
    )
    ax.set_xticks(list(x), [k.replace(": ", ":\n") for k in labels], fontsize=8)
    ax.set_ylabel("p50 ms")
    ax.set_title("Bug lists and full-text search")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "bugs.png", dpi=110)
    plt.close(fig)
    made.append("bugs.png")

    # 4. load: p50 and p99 per endpoint group
    table = {k: v for k, v in report["load"]["table"].items() if k != "all"}
    groups = list(table)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.bar(
        [i - 0.2 for i in range(len(groups))],
        [table[g]["p50_ms"] for g in groups],
        0.4,
        label="p50",
    )
    ax.bar(
        [i + 0.2 for i in range(len(groups))],
        [table[g]["p99_ms"] for g in groups],
        0.4,
        label="p99",
    )
    ax.set_xticks(range(len(groups)), groups, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("ms (log)")
    ax.set_title(f"Mixed load: {report['load']['table']['all']['per_s']:.1f} req/s overall")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "load.png", dpi=110)
    plt.close(fig)
    made.append("load.png")
    return made


def markdown(report: dict[str, Any], budget: list[Check], images: list[str]) -> str:
    load = report["load"]
    lines = [
        "# Nimbus benchmark report",
        "",
        f"{report['finished_at']} on {report['machine']}; took {report['took_s'] / 60:.1f} min. "
        "Ratios compare numbers measured in this same run.",
        "",
        "## Performance budget",
        "",
        "| budget (DESIGN.md) | measured | target | result |",
        "|---|---|---|---|",
        *(c.row() for c in budget),
        "",
        f"Met {sum(c.met for c in budget)} of {len(budget)}.",
        "",
        "![budget](budget.png)",
        "",
        "## Memory",
        "",
        "| `nimbus serve`, idle after warm-up | RSS |",
        "|---|---|",
        *(f"| {k} | {v:.0f} MB |" for k, v in report["rss_mb"].items()),
        "",
        "## Jobs",
        "",
        "| measurement | value |",
        "|---|---|",
        *(f"| {k} | {v:.1f} |" for k, v in report["jobs_api"].items()),
        *(f"| backend only: {k} (ms) | {v:.1f} |" for k, v in report["jobs_backend"].items()),
        "",
        "![jobs](jobs.png)",
        "",
        "## Bug lists and search",
        "",
        f"Sizes: {', '.join(f'{n:,}' for n in report['bug_sizes'])} bugs.",
        "",
        "| query | API p50, small | API p50, large | scaling | SQL p50, large | API / SQL |",
        "|---|---|---|---|---|---|",
        *(
            f"| {k} | {r['api_p50_small_ms']:.1f} ms | {r['api_p50_large_ms']:.1f} ms | "
            f"{r['scaling']:.2f}x | {r['sql_p50_large_ms']:.1f} ms | {r['api_over_sql']:.2f}x |"
            for k, r in report["bugs"].items()
        ),
        "",
        "![bugs](bugs.png)",
        "",
        "## Hot reads against `nimbus serve`",
        "",
        f"Closed loop, {report['hot_reads_connections']} connections, one `nimbus serve` on "
        f"PostgreSQL with {report['hot_reads_bugs']:,} bugs, a developer member signed in; "
        "medians over the rounds, each ratio against `/healthz` of the same round.",
        "",
        "| request | req/s | req per CPU second | ratio (wall) | ratio (CPU) |",
        "|---|---|---|---|---|",
        *(
            f"| {k} | {r['req_per_s']:.0f} | {r['req_per_cpu_s']:.0f} | "
            f"{r['ratio_wall']:.2f}x | {r['ratio_cpu']:.2f}x |"
            for k, r in report["hot_reads"].items()
        ),
        "",
        "## Mixed HTTP load against `nimbus serve`",
        "",
        f"{load['duration_s']:.0f} s, {load['users']} virtual users in a closed loop (no think time), "
        "PostgreSQL, Docker sandbox with a warm pool, one server process.",
        "",
        "| group | requests | req/s | p50 ms | p99 ms | 4xx | 5xx |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {g} | {r['requests']} | {r['per_s']:.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['4xx']} | {r['5xx']} |"
            for g, r in load["table"].items()
        ),
        "",
        f"Acknowledged writes: {load['writes']}; missing from the database afterwards: "
        f"{len(load['missing'])}; requests without an answer: {load['no_response']}; "
        f"job outcomes: {load['job_statuses']}.",
        "",
        "![load](load.png)",
        "",
    ]
    return "\n".join(lines)


def write(out: Path, report: dict[str, Any], budget: list[Check]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    images = charts(out, report, budget)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    (out / "report.md").write_text(markdown(report, budget, images))


async def main(
    out: Path,
    bug_sizes: list[int],
    bug_runs: int,
    samples: int,
    jobs: int,
    load_s: float,
    users: int,
) -> int:
    started = time.monotonic()
    print("== idle RSS")
    rss = await idle_rss()
    print(rss)
    print("== jobs: backend")
    jobs_backend = await bench_jobs.measure(samples)
    print("== jobs: API")
    jobs_api = await bench_jobs_api.measure(samples, jobs)
    print("== bug lists")
    bugs = bench_bugs.summary(await bench_bugs.run(bug_sizes, bug_runs))
    print("== hot reads")
    hot = await bench_hot_reads.measure(bugs=HOT_READ_BUGS)
    bench_hot_reads.print_summary(hot)
    print("== load")
    run = await bench_load.measure(load_s, users)
    bench_load.print_run(run)
    report: dict[str, Any] = {
        "finished_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.node()} ({platform.machine()}, Python {platform.python_version()})",
        "took_s": time.monotonic() - started,
        "rss_mb": rss,
        "jobs_backend": jobs_backend,
        "jobs_api": jobs_api,
        "bug_sizes": bug_sizes,
        "bugs": bugs,
        "hot_reads": hot.summary(),
        "hot_reads_bugs": hot.bugs,
        "hot_reads_connections": hot.connections,
        "load": {
            "duration_s": run.result.duration_s,
            "users": run.result.concurrency,
            "table": run.result.table(),
            "writes": run.result.writes.counts(),
            "missing": run.audit.missing,
            "no_response": len(run.result.no_response),
            "server_errors": [f.detail for f in run.result.server_errors],
            "job_statuses": dict(run.audit.job_statuses),
        },
    }
    budget = checks(jobs_api, bugs, bug_sizes, rss, report["hot_reads"])
    write(out, report, budget)
    print(f"\nreport: {out / 'report.md'}")
    print("\n".join(c.row() for c in budget))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "report")
    parser.add_argument("--bug-sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--bug-runs", type=int, default=40)
    parser.add_argument("--samples", type=int, default=15, help="latency samples per job path")
    parser.add_argument("--jobs", type=int, default=48, help="jobs per throughput run")
    parser.add_argument("--load-seconds", type=float, default=60)
    parser.add_argument("--users", type=int, default=12, help="virtual users of the load")
    a = parser.parse_args()
    raise SystemExit(
        run_like_nimbus_serve(
            main(a.out, a.bug_sizes, a.bug_runs, a.samples, a.jobs, a.load_seconds, a.users)
        )
    )
