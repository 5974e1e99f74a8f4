"""bubblewrap-only behaviour: the host never follows what the sandbox left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from executor.backends import BwrapBackend, ExecutorUnavailable, Outcome
from tests.executor.helpers import run_job


async def test_symlink_to_a_host_file_is_not_read(bwrap_backend: BwrapBackend) -> None:
    source = (
        "import os\n"
        "os.symlink('/etc/shadow', 'shadow')\n"
        "os.symlink('/proc/self/environ', 'environ')\n"
        "open('ok.txt', 'w').write('ok')\n"
    )
    result = await run_job(bwrap_backend, source)
    assert [f.path for f in result.files] == ["ok.txt"]


async def test_host_side_sees_no_host_paths(bwrap_backend: BwrapBackend) -> None:
    result = await run_job(bwrap_backend, "import os; print(sorted(os.listdir('/')))")
    listed = set(eval(result.stdout))  # noqa: S307 - our own repr of a list of names
    assert "root" not in listed and "home" not in listed and "etc" in listed
    assert (
        "passwd"
        not in (await run_job(bwrap_backend, "import os; print(os.listdir('/etc'))")).stdout
    )


async def test_missing_bwrap_is_explained(tmp_path: Path) -> None:
    backend = BwrapBackend(bwrap=str(tmp_path / "no-bwrap"))
    with pytest.raises(ExecutorUnavailable, match="apt-get install bubblewrap"):
        await backend.check()
    broken = BwrapBackend()
    broken.bwrap = None
    assert (await run_job(broken, "print(1)")).outcome is Outcome.ERROR
