"""Every metric the provisioned Grafana dashboard queries is one the code really exports: scraped
from /metrics of an app whose in-process worker has run a job (the worker process serves the
same job metrics, see test_worker_shutdown)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

DASHBOARD = (
    Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards" / "nimbus.json"
)
WANTED_PANELS = {
    "Request rate",
    "Latency p50 / p99",
    "5xx rate",
    "Jobs queued and running",
    "Jobs finished",
    "Sandbox pool available",
}


def queried_metrics() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    assert {panel["title"] for panel in dashboard["panels"]} >= WANTED_PANELS
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    return {name for expr in exprs for name in re.findall(r"\b(?:http|nimbus)_[a-z0-9_]+", expr)}


async def test_the_dashboard_queries_only_exported_metrics(live):
    dev = await live.user()
    r = await live.submit(dev, {"source": "print(1)"}, wait=20)
    assert r.status_code == 200 and r.json()["status"] == "succeeded"
    await live.client.get("/api/v1/does-not-exist")  # a 4xx, so status labels vary
    scraped = (await live.client.get("/metrics")).text
    exported = {
        line.split("{")[0].split(" ")[0] for line in scraped.splitlines() if line[:1] != "#"
    }

    wanted = queried_metrics()
    assert {"nimbus_jobs_total", "nimbus_sandbox_pool_available"} <= wanted
    assert wanted <= exported, sorted(wanted - exported)
