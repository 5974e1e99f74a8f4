"""The Postman collection, generated from the API's document, run by newman against a live server.

tests/clients/postman/build.mjs converts the document with openapi-to-postmanv2 and makes the
collection runnable; the collection is a build product (like the Python client) generated
into tests/clients/generated/, so it can never drift from the API. Every one of its requests
runs: each must answer with a status the document declares, errors must be problem+json, a
success body must match its documented schema, and the main flow's requests must succeed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clients.conftest import LiveServer
from tests.clients.generate import GENERATED, served_spec

POSTMAN = Path(__file__).resolve().parent / "postman"
NEWMAN = POSTMAN / "node_modules" / ".bin" / "newman"
SETUP_HINT = "run `make postman-deps` (npm ci --prefix tests/clients/postman; needs nodejs and npm)"


def build_collection(spec_path: Path, out: Path) -> dict:
    node = shutil.which("node")
    if node is None or not NEWMAN.exists():
        pytest.fail(f"the Postman tools are missing: {SETUP_HINT}", pytrace=False)
    subprocess.run(
        [node, str(POSTMAN / "build.mjs"), str(spec_path), str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.read_text())


def test_every_request_of_the_collection_runs_as_documented(
    live_server: LiveServer, tmp_path: Path
) -> None:
    spec = served_spec()
    spec_path = tmp_path / "openapi.json"
    spec_path.write_text(json.dumps(spec))
    collection_path = GENERATED / "postman" / "nimbus.postman_collection.json"
    collection = build_collection(spec_path, collection_path)
    operations = sum(len(item) for item in spec["paths"].values())
    requests = sum(len(folder["item"]) for folder in collection["item"])
    assert requests == operations, "the collection should hold one request per operation"

    report = tmp_path / "newman.json"
    run = subprocess.run(
        [
            str(NEWMAN),
            "run",
            str(collection_path),
            "--environment",
            str(POSTMAN / "nimbus.postman_environment.json"),
            "--env-var",
            f"baseUrl={live_server.url}",
            "--reporters",
            "cli,json",
            "--reporter-json-export",
            str(report),
            "--timeout-request",
            "20000",
            "--color",
            "off",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert report.exists(), run.stdout + run.stderr
    result = json.loads(report.read_text())["run"]
    failures = [
        f"{failure['source'].get('name', '?')}: {failure['error'].get('message', '')}"
        for failure in result["failures"]
    ]
    assert failures == [], "\n".join(failures)
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr
    stats = result["stats"]
    ran = {execution["item"]["name"].split(":")[0] for execution in result["executions"]}
    assert len(ran) == operations, "every operation's request should have run"
    assert stats["assertions"]["failed"] == 0
    unchecked = [e["item"]["name"] for e in result["executions"] if not e.get("assertions")]
    assert unchecked == [], "every request checks its status against the document"
