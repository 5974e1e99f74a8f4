"""A short mixed load against a live `nimbus serve` on PostgreSQL with a Docker sandbox:
no 5xx, no request without an answer, and every acknowledged write is in the database."""

from __future__ import annotations

import pytest

from tests.executor.docker_engine import Engine
from tests.support.load import MIX, live_load
from tests.support.postgres import Cluster

pytestmark = [pytest.mark.docker, pytest.mark.slow]

DURATION_S = 20


async def test_mixed_load_has_no_server_errors_and_loses_no_writes(
    pg_cluster: Cluster, docker_engine: Engine, tmp_path
):
    pg_cluster.psql("CREATE DATABASE nimbus_load_short")
    run = await live_load(
        pg_cluster.url("nimbus_load_short"),
        tmp_path,
        DURATION_S,
        users=8,
        docker_host=docker_engine.docker_host,
        sandbox_image=docker_engine.image,
    )
    result, audit = run.result, run.audit
    print(result.table(), result.writes.counts(), audit.job_statuses)
    assert not result.failures, (result.failures[:5], run.server_log_tail)
    assert set(result.groups) == set(MIX)  # every part of the mix ran
    table = result.table()
    assert all(table[g]["ok"] > 0 for g in MIX), table
    counts = result.writes.counts()
    assert all(counts.values()), counts
    assert audit.missing == []
    assert audit.wrong_output == []
    assert set(audit.job_statuses) == {"succeeded"}, audit.job_statuses
