"""Nimbus's seccomp profile (``seccomp.json``), as Docker's security option and as bubblewrap's BPF.

``seccomp.json`` is the one rule set: Docker reads it as ``seccomp=<json>`` in
``HostConfig.SecurityOpt``; bubblewrap takes a compiled classic BPF program on a file descriptor
(``--seccomp FD``), which `bpf_program` builds from the same rules with libseccomp (the system's
``libseccomp.so.2`` through pyseccomp). Only what the profile uses is translated: the ALLOW and
ERRNO actions and single-argument comparisons, so both backends mean the same thing by it.
Names this machine's libseccomp does not know (newer or foreign system calls) are left out of the
BPF program, as Docker leaves them out too: they fall to the default action.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

PROFILE_PATH = Path(__file__).with_name("seccomp.json")
UNKNOWN = -1
"""libseccomp's ``__NR_SCMP_ERROR``: a name it cannot resolve on any architecture."""

_OPS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT")
OPERATORS = {name: code for code, name in enumerate((*_OPS, "SCMP_CMP_MASKED_EQ"), start=1)}
"""libseccomp's ``scmp_compare`` values (SCMP_CMP_NE = 1 ... SCMP_CMP_MASKED_EQ = 7)."""


class SeccompUnavailable(RuntimeError):
    """libseccomp cannot be loaded or the profile does not fit this machine."""


@functools.cache
def profile() -> dict[str, Any]:
    """The profile as Docker reads it."""
    loaded: dict[str, Any] = json.loads(PROFILE_PATH.read_text())
    return loaded


@functools.cache
def docker_security_opt() -> str:
    """The ``HostConfig.SecurityOpt`` entry that makes Docker apply the profile."""
    return "seccomp=" + json.dumps(profile(), separators=(",", ":"))


def _action(rule: dict[str, Any], default_errno: int) -> int:
    import pyseccomp  # type: ignore[import-untyped]

    action = rule["action"]
    if action == "SCMP_ACT_ALLOW":
        return int(pyseccomp.ALLOW)
    if action == "SCMP_ACT_ERRNO":
        return int(pyseccomp.ERRNO(int(rule.get("errnoRet", default_errno))))
    raise SeccompUnavailable(f"seccomp.json: action {action} is not supported")


def _arguments(rule: dict[str, Any]) -> list[Any]:
    import pyseccomp

    args = rule.get("args") or []
    indexes = [arg["index"] for arg in args]
    if len(set(indexes)) != len(indexes):
        # Docker turns repeated indexes into alternatives, libseccomp into a conjunction
        raise SeccompUnavailable("seccomp.json: one argument compared twice in a rule")
    return [
        pyseccomp.Arg(arg["index"], OPERATORS[arg["op"]], arg["value"], arg.get("valueTwo", 0))
        for arg in args
    ]


@functools.cache
def bpf_program() -> bytes:
    """The profile compiled for this machine's architecture, as bubblewrap's ``--seccomp`` reads it.

    Raises `SeccompUnavailable` when libseccomp is missing or the profile omits this architecture.
    """
    try:
        import pyseccomp
    except (ImportError, RuntimeError, OSError) as exc:
        raise SeccompUnavailable(
            f"libseccomp is missing ({exc}): apt-get install libseccomp2"
        ) from exc
    rules = profile()
    native = pyseccomp.system_arch()
    listed = {
        getattr(pyseccomp.Arch, name.removeprefix("SCMP_ARCH_"), None)
        for name in rules["architectures"]
    }
    if native not in listed:
        raise SeccompUnavailable("seccomp.json does not list this machine's architecture")
    default_errno = int(rules["defaultErrnoRet"])
    if rules["defaultAction"] != "SCMP_ACT_ERRNO":
        raise SeccompUnavailable("seccomp.json: the default action must be SCMP_ACT_ERRNO")
    default = pyseccomp.ERRNO(default_errno)
    bpf = pyseccomp.SyscallFilter(default)
    bpf.set_attr(pyseccomp.Attr.ACT_BADARCH, default)  # 32-bit and x32 calls: refused alike
    for rule in rules["syscalls"]:
        action, args = _action(rule, default_errno), _arguments(rule)
        for name in rule["names"]:
            number = pyseccomp.resolve_syscall(native, name)
            if number < 0:  # unknown to libseccomp or absent on this architecture
                continue
            bpf.add_rule(action, number, *args)
    fd = os.memfd_create("nimbus-seccomp", os.MFD_CLOEXEC)
    with os.fdopen(fd, "w+b") as out:
        bpf.export_bpf(out)
        out.seek(0)
        return out.read()


def unknown_names() -> list[str]:
    """Profile names libseccomp does not know at all: misspelt, or newer than this libseccomp.

    (Names it knows but this architecture lacks, such as ``open`` on arm64, are not listed.)
    """
    import pyseccomp

    native = pyseccomp.system_arch()
    return sorted(
        name
        for rule in profile()["syscalls"]
        for name in rule["names"]
        if pyseccomp.resolve_syscall(native, name) == UNKNOWN
    )
