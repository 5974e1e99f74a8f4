"""Every curl block of the README, run by bash against a live server, so the docs cannot drift.

The blocks run in order as one script (later ones use the variables earlier ones set), from the
repository root (one uploads README.md), with the README's `http://127.0.0.1:8000` pointed at
the test's server. `curl` is wrapped: every request must answer below 400.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clients.conftest import REPO, LiveServer

README_URL = "http://127.0.0.1:8000"
# Fails the script on an HTTP error; the README's own `curl -s` would carry on silently.
CURL_WRAPPER = r"""
curl() {
  local body status
  body=$(mktemp)
  status=$(command curl --show-error --output "$body" --write-out '%{http_code}' "$@") || {
    echo "README: curl could not connect: curl $*" >&2; rm -f "$body"; return 1; }
  cat "$body"; echo; rm -f "$body"
  if [ "$status" -ge 400 ]; then
    echo "README: HTTP $status from: curl $*" >&2
    return 1
  fi
  echo "$status" >> "$CURL_LOG"
}
"""


def curl_blocks(readme: str) -> list[str]:
    blocks = re.findall(r"^```(?:sh|bash|shell)\n(.*?)^```", readme, flags=re.S | re.M)
    return [block for block in blocks if re.search(r"\bcurl\b", block)]


def test_every_curl_example_in_the_readme_works(live_server: LiveServer, tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.fail("the README's examples need curl: apt-get install curl", pytrace=False)
    blocks = curl_blocks((REPO / "README.md").read_text())
    assert len(blocks) >= 4, "the README's 'Using the API' section has lost its curl examples"
    script = "\n".join(block.replace(README_URL, live_server.url) for block in blocks)
    assert README_URL not in script
    calls = len(re.findall(r"(?:^|\$\()\s*curl\b", script, flags=re.M))
    log = tmp_path / "curl.log"
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", CURL_WRAPPER + script],
        cwd=REPO,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "CURL_LOG": str(log), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, f"a README example failed:\n{run.stderr}\n{run.stdout[-3000:]}"
    answered = log.read_text().splitlines()
    assert len(answered) == calls, "every curl in the README should have run"
    # What the examples promise to show.
    assert '"role":"admin"' in run.stdout
    assert '"status":"resolved"' in run.stdout and '"resolution":"fixed"' in run.stdout
    assert '"total":"42.50"' in run.stdout
    assert '"status":"succeeded"' in run.stdout and '"stdout":"45\\n"' in run.stdout
    assert "event: exit" in run.stdout
