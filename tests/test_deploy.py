"""The production stack as configured: `docker compose config` accepts docker-compose.yml, and the
file keeps its promises (secrets only from the environment, the Docker socket only on the
worker, health checks and restart policies, migrations before the api). No image is built or
started here: no registry is reachable from the test machines."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret",
    "NIMBUS_SECRET_KEY": "k" * 48,
    "S3_ACCESS_KEY": "s3-access",
    "S3_SECRET_KEY": "s3-secret-value",
    "GRAFANA_ADMIN_PASSWORD": "grafana-secret",
    "NIMBUS_METRICS_TOKEN": "metrics-token-value",
    "DOCKER_GID": "999",
}
ONE_SHOTS = {"migrate", "s3-init"}


def compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    pytest.fail(
        "no Docker Compose CLI: install it with `apt-get install docker-compose` "
        "(make test's bootstrap does)",
        pytrace=False,
    )


def run_config(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [*compose_command(), "-f", str(COMPOSE), *args, "config"],
        env={**base, **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    """The file as compose resolves it (anchors merged, variables filled in), dev profile on."""
    result = run_config(SECRETS, "--profile", "dev")
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def test_compose_config_accepts_the_file(rendered):
    assert {"db", "s3", "s3-init", "migrate", "api", "worker", "web"} <= rendered["services"].keys()
    assert {"prometheus", "grafana", "mailpit"} <= rendered["services"].keys()


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_to_start_without_each_secret(missing):
    result = run_config({k: v for k, v in SECRETS.items() if k != missing})
    assert result.returncode != 0
    assert missing in result.stderr


def test_secrets_have_no_defaults_anywhere_in_the_file():
    text = COMPOSE.read_text()
    for name in SECRETS:
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses, name
        assert all(use.startswith(":?") for use in uses), (name, uses)
    raw = yaml.safe_load(text)
    for service, spec in raw["services"].items():
        env = spec.get("environment", {})
        for key, value in env.items():
            if re.search(r"PASSWORD|SECRET|ACCESS_KEY", key):
                assert "${" in str(value), f"{service}: {key} is not taken from the environment"


def test_only_the_worker_mounts_the_docker_socket(rendered):
    holders = {
        name
        for name, spec in rendered["services"].items()
        if "docker.sock" in json.dumps(spec.get("volumes", []))
    }
    assert holders == {"worker"}
    assert rendered["services"]["worker"]["group_add"] == [SECRETS["DOCKER_GID"]]
    assert rendered["services"]["api"]["environment"]["NIMBUS_EXECUTOR_IN_PROCESS"] == "false"


def test_long_running_services_have_health_checks_and_restart_policies(rendered):
    for name, spec in rendered["services"].items():
        if name in ONE_SHOTS:
            assert spec.get("restart") == "no", name
            continue
        assert spec.get("restart") in ("unless-stopped", "always"), name
        assert spec.get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_migrations_and_the_bucket_come_first(rendered):
    services = rendered["services"]
    for name in ("api", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["s3-init"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["nimbus", "migrate"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["s3-init"]["depends_on"]["s3"]["condition"] == "service_healthy"
    assert "pgdata" in json.dumps(services["db"]["volumes"])


def test_the_images_come_from_the_multi_stage_non_root_dockerfile(rendered):
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", dockerfile, re.MULTILINE))
    for name in ("api", "worker", "migrate", "web"):
        build = rendered["services"][name]["build"]
        assert build["dockerfile"] == "deploy/Dockerfile"
        assert build["target"] in stages
    assert "uv sync --frozen --no-dev" in dockerfile
    app_stage = dockerfile.split(" AS app", 1)[1].split("\nFROM ", 1)[0]
    user = re.search(r"^USER (\S+)$", app_stage, re.MULTILINE)
    assert user and not user.group(1).startswith(("root", "0"))
    assert "COPY --from=spa /src/frontend/dist" in app_stage


def test_mounted_configuration_files_exist(rendered):
    sources = [
        str(volume["source"] if isinstance(volume, dict) else volume.split(":")[0])
        for spec in rendered["services"].values()
        for volume in spec.get("volumes", [])
    ]
    ours = [source for source in sources if source.startswith(str(ROOT))]
    assert len(ours) == 3, sources  # prometheus.yml, grafana provisioning and dashboards
    for source in ours:
        assert Path(source).exists(), source


def test_prometheus_scrapes_the_ports_the_services_serve_metrics_on(rendered):
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    api = jobs["nimbus-api"]["dns_sd_configs"][0]
    worker = jobs["nimbus-worker"]["dns_sd_configs"][0]
    assert api["names"] == ["api"] and api["port"] == 8000
    assert "8000" in rendered["services"]["api"]["command"]
    assert worker["names"] == ["worker"]
    worker_env = rendered["services"]["worker"]["environment"]
    assert str(worker["port"]) == worker_env["NIMBUS_WORKER_METRICS_PORT"]
    assert worker_env["NIMBUS_WORKER_METRICS_HOST"] == "0.0.0.0"  # noqa: S104 - in its container


def test_grafana_is_provisioned_with_the_dashboard_and_prometheus(rendered):
    grafana = ROOT / "deploy" / "grafana"
    datasources = yaml.safe_load((grafana / "provisioning/datasources/prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    dashboard = json.loads((grafana / "dashboards" / "nimbus.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == source["uid"], panel["title"]
    mounts = json.dumps(rendered["services"]["grafana"]["volumes"])
    assert "/var/lib/grafana/dashboards" in mounts and "/etc/grafana/provisioning" in mounts


def test_the_build_context_leaves_out_local_state():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".env", "data", "frontend/node_modules", "frontend/dist"} <= ignored
