"""The output-tar reader only ever yields safe regular files, within its caps."""

from __future__ import annotations

import io
import tarfile

import pytest

from executor.archive import build_input_tar, read_output_files
from executor.backends.base import InvalidJob


def make_tar(*members: tuple[str, bytes | None, bytes]) -> bytes:
    """members: (name, content or None, tar type)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content, kind in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = (content or b"").decode()
                tar.addfile(info)
            elif content is not None:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
            else:
                tar.addfile(info)
    return buf.getvalue()


def read(data: bytes, **kwargs: int) -> list[tuple[str, bytes]]:
    caps = {"max_files": 10, "max_file_bytes": 1000} | kwargs
    result = read_output_files(data, strip_prefix="job/", **caps)
    return [(f.path, f.content) for f in result.files]


def test_regular_files_under_the_prefix_are_returned() -> None:
    data = make_tar(
        ("job", None, tarfile.DIRTYPE),
        ("job/a.txt", b"A", tarfile.REGTYPE),
        ("job/sub", None, tarfile.DIRTYPE),
        ("job/sub/b.txt", b"B", tarfile.REGTYPE),
    )
    assert read(data) == [("a.txt", b"A"), ("sub/b.txt", b"B")]


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("job/link", b"/etc/passwd", tarfile.SYMTYPE),
        ("job/hard", b"job/a.txt", tarfile.LNKTYPE),
        ("job/dev", None, tarfile.CHRTYPE),
        ("job/blk", None, tarfile.BLKTYPE),
        ("job/fifo", None, tarfile.FIFOTYPE),
        ("job/../../etc/cron.d/x", b"evil", tarfile.REGTYPE),
        ("/etc/shadow", b"evil", tarfile.REGTYPE),
        ("job//double", b"evil", tarfile.REGTYPE),
        ("other/file", b"evil", tarfile.REGTYPE),
        ("job/a\\..\\b", b"evil", tarfile.REGTYPE),
    ],
)
def test_unsafe_members_are_dropped(name: str, content: bytes | None, kind: bytes) -> None:
    data = make_tar(("job/a.txt", b"A", tarfile.REGTYPE), (name, content, kind))
    result = read_output_files(data, strip_prefix="job/", max_files=10, max_file_bytes=1000)
    assert [f.path for f in result.files] == ["a.txt"]
    assert result.rejected == [name]


def test_file_count_is_capped_and_flagged() -> None:
    data = make_tar(*[(f"job/f{i}", b"x", tarfile.REGTYPE) for i in range(5)])
    result = read_output_files(data, strip_prefix="job/", max_files=3, max_file_bytes=10)
    assert len(result.files) == 3
    assert result.truncated


def test_oversized_files_are_skipped_and_flagged() -> None:
    data = make_tar(("job/big", b"x" * 11, tarfile.REGTYPE), ("job/ok", b"y", tarfile.REGTYPE))
    result = read_output_files(data, strip_prefix="job/", max_files=5, max_file_bytes=10)
    assert [f.path for f in result.files] == ["ok"]
    assert result.truncated


def test_total_size_is_capped() -> None:
    data = make_tar(*[(f"job/f{i}", b"x" * 6, tarfile.REGTYPE) for i in range(3)])
    result = read_output_files(
        data, strip_prefix="job/", max_files=5, max_file_bytes=10, max_total_bytes=13
    )
    assert len(result.files) == 2
    assert result.truncated


def test_archive_cut_short_keeps_complete_members() -> None:
    data = make_tar(("job/a", b"A" * 600, tarfile.REGTYPE), ("job/b", b"B" * 6000, tarfile.REGTYPE))
    cut = data[:4000]  # ends inside job/b
    result = read_output_files(
        cut, strip_prefix="job/", max_files=5, max_file_bytes=10_000, cut_short=True
    )
    assert [f.path for f in result.files] == ["a"]
    assert result.truncated


def test_garbage_is_not_an_exception() -> None:
    result = read_output_files(b"\x00not a tar" * 100, max_files=5, max_file_bytes=10)
    assert result.files == []


def test_unchanged_inputs_are_not_reported() -> None:
    data = make_tar(("job/main.py", b"print(1)", tarfile.REGTYPE), ("job/o", b"o", tarfile.REGTYPE))
    result = read_output_files(
        data,
        strip_prefix="job/",
        max_files=5,
        max_file_bytes=100,
        unchanged={"main.py": b"print(1)"},
    )
    assert [f.path for f in result.files] == ["o"]


def test_input_tar_starts_with_a_private_job_dir_owned_by_nobody() -> None:
    data = build_input_tar({"pkg/mod.py": b"x = 1", "main.py": b"print(1)"})
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
    first = members[0]
    assert (first.name, first.isdir(), first.mode, first.uid) == ("job", True, 0o700, 65534)
    assert {m.name for m in members} == {"job", "job/main.py", "job/pkg", "job/pkg/mod.py"}
    assert all(m.uid == 65534 and m.mtime == 0 for m in members)


def test_input_tar_refuses_escaping_names() -> None:
    with pytest.raises(InvalidJob):
        build_input_tar({"../x": b""})
