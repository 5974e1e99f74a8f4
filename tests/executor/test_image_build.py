"""The runtime image build tells its progress line by line (debootstrap takes minutes)."""

from __future__ import annotations

import sys

import pytest

from executor.image.build import ImageBuildError, _run


def test_a_step_reports_each_line_as_it_runs():
    lines: list[str] = []
    _run([sys.executable, "-c", "print('I: one'); print('I: two')"], "step", 30, lines.append)
    assert lines == ["I: one", "I: two"]


def test_a_failing_step_says_what_it_printed_last():
    lines: list[str] = []
    script = "import sys; print('E: no mirror'); sys.exit(4)"
    with pytest.raises(ImageBuildError, match=r"debootstrap failed \(4\): E: no mirror"):
        _run([sys.executable, "-c", script], "debootstrap", 30, lines.append)
    assert lines == ["E: no mirror"]


def test_a_step_past_its_timeout_is_killed():
    with pytest.raises(ImageBuildError, match=r"slow failed \(-9\)"):
        _run([sys.executable, "-c", "import time; time.sleep(30)"], "slow", 0.5, print)
