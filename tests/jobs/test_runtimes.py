"""The runtimes: listed with their packages, validated at submission, python-sci end to end."""

from __future__ import annotations

import subprocess

import pytest

from api.jobs import runtimes
from executor.backends import BwrapBackend, DockerBackend
from tests.conftest import auth_headers
from tests.executor.docker_engine import Engine
from tests.jobs.fixtures import JOBS

PLOT = (
    "import matplotlib.pyplot as plt, numpy, pandas, scipy\n"
    "plt.plot(numpy.arange(3))\nplt.savefig('plot.png')\nprint(pandas.__version__)\n"
)


async def test_an_unknown_runtime_is_422_listing_the_runtimes(client, developer):
    r = await client.post(
        JOBS, json={"source": "print(1)", "runtime": "ruby"}, headers=auth_headers(developer)
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "unknown_runtime" and body["runtimes"] == ["python", "python-sci"]
    listed = await client.get(JOBS, headers=auth_headers(developer))
    assert listed.json()["items"] == []


async def test_runtimes_are_listed_with_a_description(client, tester):
    r = await client.get("/api/v1/runtimes", headers=auth_headers(tester))
    python, sci = r.json()["items"]
    assert (python["name"], sci["name"]) == ("python", "python-sci")
    assert "numpy" in sci["description"] and "standard library" in python["description"]


async def test_bubblewrap_offers_python_sci_only_with_the_hosts_modules(
    bwrap_backend: BwrapBackend,
):
    python = await runtimes.probe(bwrap_backend, "python")
    assert python.available and python.packages["python3.11"][0].isdigit()
    sci = await runtimes.probe(bwrap_backend, "python-sci")
    host_has = subprocess.run([bwrap_backend.python, "-c", "import numpy"], check=False)  # noqa: ASYNC221
    if host_has.returncode != 0:
        assert not sci.available and sci.reason is not None
        assert "apt-get install python3-numpy" in sci.reason and runtimes.BUILD_SCI in sci.reason
        with pytest.raises(runtimes.RuntimeUnavailable):
            await runtimes.require(bwrap_backend, "python-sci")
    else:
        assert sci.available


@pytest.mark.docker
async def test_a_runtime_whose_image_is_missing_says_how_to_build_it(docker_engine: Engine):
    backend = DockerBackend(docker_engine.docker_host, "nimbus-sandbox:not-built")
    try:
        found = await runtimes.probe(backend, "python")
    finally:
        await backend.close()
    assert not found.available
    assert (
        found.reason
        == "its image nimbus-sandbox:not-built is not built: run `nimbus sandbox build`"
    )


@pytest.mark.docker
async def test_python_sci_job_returns_a_png_and_python_has_no_numpy(live, sci_image):
    dev = await live.user()
    listed = await live.client.get("/api/v1/runtimes", headers=auth_headers(dev))
    python, sci = listed.json()["items"]
    assert python["packages"]["python3.11"].startswith("3.11")
    assert sci["available"] is True and sci["packages"]["python3-pandas"][0].isdigit()
    body = (await live.submit(dev, {"source": PLOT, "runtime": "python-sci"}, wait=30)).json()
    assert body["status"] == "succeeded", body
    assert body["stdout"].strip() == sci["packages"]["python3-pandas"].split("+")[0]
    assert [f["path"] for f in body["files"]] == ["plot.png"]
    png = await live.client.get(f"{JOBS}/{body['id']}/files/plot.png", headers=auth_headers(dev))
    assert png.content.startswith(b"\x89PNG")
    plain = (await live.submit(dev, {"source": "import numpy"}, wait=30)).json()
    assert plain["status"] == "failed" and "No module named 'numpy'" in plain["stderr"]
