"""The python-sci runtime on the real Docker engine: numpy, pandas, matplotlib, scipy, pytest."""

from __future__ import annotations

from executor.backends import DockerBackend, JobSpec, Outcome
from executor.image.build import image_packages
from tests.executor.docker_engine import Engine

SCI_SCRIPT = """
import matplotlib, numpy, pandas, scipy, pytest
import matplotlib.pyplot as plt
frame = pandas.DataFrame({"x": numpy.arange(5), "y": numpy.arange(5) ** 2})
plt.plot(frame.x, frame.y)
plt.savefig("plot.png")
print(matplotlib.get_backend(), scipy.__version__, int(frame.y.sum()))
"""


async def test_python_sci_imports_the_libraries_and_saves_a_png(
    docker_backend: DockerBackend, sci_image: str
) -> None:
    spec = JobSpec.from_source(SCI_SCRIPT, image=sci_image)
    result = await docker_backend.run(spec)
    assert result.outcome == Outcome.SUCCEEDED, result.stderr
    backend_name, _, total = result.stdout.split()
    assert backend_name.lower() == "agg" and total == "30"
    (png,) = [f for f in result.files if f.path == "plot.png"]
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")


async def test_python_has_no_numpy(docker_backend: DockerBackend) -> None:
    result = await docker_backend.run(JobSpec.from_source("import numpy"))
    assert result.outcome == Outcome.FAILED
    assert "No module named 'numpy'" in result.stderr


def test_the_sci_image_lists_its_package_versions(docker_engine: Engine, sci_image: str) -> None:
    packages = image_packages(sci_image, docker_engine.docker_host)
    assert packages is not None
    for name in ("python3-numpy", "python3-pandas", "python3-matplotlib", "python3-scipy"):
        assert packages[name][0].isdigit(), packages
    assert image_packages("nimbus-sandbox:no-such-tag", docker_engine.docker_host) is None


async def test_the_sci_image_keeps_no_compiler(
    docker_backend: DockerBackend, sci_image: str
) -> None:
    src = "import shutil\nprint([shutil.which(c) for c in ('gcc', 'g++', 'cc', 'c++', 'as', 'ld')])"
    result = await docker_backend.run(JobSpec.from_source(src, image=sci_image))
    assert result.stdout == "[None, None, None, None, None, None]\n", result.stderr
