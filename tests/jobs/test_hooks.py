"""The job hooks registry: filled explicitly at start-up, one hook per name."""

from __future__ import annotations

import pytest

from api.bugs.reproductions import HOOK, REPRODUCTION_HOOK
from api.jobs.hooks import HookConflict, JobHook, JobHooks
from api.wiring import wire_job_hooks


async def _nothing(session, job) -> None:
    return None


def test_importing_a_domain_registers_nothing():
    assert HOOK not in JobHooks()  # a fresh registry: only wiring fills one


def test_wiring_registers_the_reproduction_hook_once():
    hooks = JobHooks()
    assert wire_job_hooks(hooks) is hooks
    wire_job_hooks(hooks)  # again, as a second start-up path in one process would
    assert hooks.get(HOOK) is REPRODUCTION_HOOK
    assert list(hooks.kept_while()) == [HOOK]


def test_a_second_hook_under_a_taken_name_is_refused():
    hooks = JobHooks()
    hooks.register(JobHook("x", _nothing))
    with pytest.raises(HookConflict):
        hooks.register(JobHook("x", REPRODUCTION_HOOK.on_finish))
    assert hooks.get("x") == JobHook("x", _nothing)
    hooks.unregister("x")
    assert hooks.get("x") is None and hooks.get(None) is None
