"""Job specs, limits and the output collector, without a sandbox."""

from __future__ import annotations

import pytest

from executor import seccomp
from executor.backends.base import (
    DEFAULT_LIMITS,
    MAX_LIMITS,
    InvalidJob,
    JobSpec,
    Limits,
    validate_relative_path,
)
from executor.backends.docker import container_config
from executor.backends.streams import OutputCollector


@pytest.mark.parametrize("path", ["", "/abs", "../x", "a/../b", "a//b", "./a", "a\\b", "a\x00"])
def test_unsafe_paths_are_invalid(path: str) -> None:
    with pytest.raises(InvalidJob):
        validate_relative_path(path)


def test_nested_relative_path_is_valid() -> None:
    assert validate_relative_path("pkg/sub/mod.py") == "pkg/sub/mod.py"


def test_limits_are_clamped_to_the_server_maxima() -> None:
    asked = Limits(wall_time_s=10_000, memory_mb=1 << 20, output_bytes=-5)
    clamped = asked.clamped()
    assert clamped.wall_time_s == MAX_LIMITS.wall_time_s
    assert clamped.memory_mb == MAX_LIMITS.memory_mb
    assert clamped.output_bytes == 1


def test_entrypoint_must_be_one_of_the_files() -> None:
    with pytest.raises(InvalidJob, match="entrypoint"):
        JobSpec(files={"a.py": b""}).validated()


def test_too_many_files_are_refused() -> None:
    files = {f"f{i}.py": b"" for i in range(3)} | {"main.py": b""}
    with pytest.raises(InvalidJob, match="too many"):
        JobSpec(files=files, limits=Limits(max_files=2)).validated()


def test_container_config_has_every_hardening_option() -> None:
    config = container_config("img", DEFAULT_LIMITS, ["/usr/bin/python3", "main.py"])
    host = config["HostConfig"]
    assert config["User"] == "65534:65534"
    assert config["Env"] == []
    assert config["Cmd"] == ["/usr/bin/python3", "main.py"]
    assert config["Labels"]["nimbus.sandbox"] == "1"
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges", seccomp.docker_security_opt()]
    assert host["Memory"] == host["MemorySwap"] == 256 * 1024 * 1024
    assert host["PidsLimit"] == DEFAULT_LIMITS.pids
    assert host["NanoCpus"] == 1_000_000_000
    assert {u["Name"] for u in host["Ulimits"]} == {"nofile", "fsize", "core"}
    assert host["IpcMode"] == "private"
    assert host["Init"] is True
    assert "size=64m" in host["Tmpfs"]["/tmp"]
    assert [(m["Type"], m["Target"]) for m in host["Mounts"]] == [("volume", "/work/job")]
    assert "Source" not in host["Mounts"][0]  # anonymous: it goes with its container
    volume = host["Mounts"][0]["VolumeOptions"]
    assert volume["Labels"]["nimbus.sandbox"] == "1"
    assert volume["DriverConfig"]["Options"]["type"] == "tmpfs"  # the kernel caps its size
    assert "size=" in volume["DriverConfig"]["Options"]["o"]
    assert "Binds" not in host
    assert host["Privileged"] is False
    assert host["AutoRemove"] is False


async def test_collector_caps_both_streams_together_and_decodes_split_chars() -> None:
    seen: list[tuple[str, str]] = []

    async def sink(stream: str, text: str) -> None:
        seen.append((stream, text))

    collector = OutputCollector(6, sink)
    euro = "€".encode()
    await collector.feed("stdout", euro[:1])
    await collector.feed("stdout", euro[1:])
    await collector.feed("stderr", b"abcdef")
    await collector.finish()
    assert collector.text("stdout") == "€"
    assert collector.text("stderr") == "abc"
    assert collector.truncated == {"stdout": False, "stderr": True}
    assert collector.overflowed.is_set()
    assert seen == [("stdout", "€"), ("stderr", "abc")]
