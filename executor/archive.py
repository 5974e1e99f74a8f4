"""Safe, in-memory reading of the tar a sandbox hands back: regular files only, capped.

Nothing here touches the host file system. Links, devices, FIFOs, directories, sparse members,
absolute names and ``..`` components are dropped; counts and sizes are capped, and a tar cut
short (because the reader stopped at its byte cap) yields the members that were complete. A name
that is not UTF-8 (a program may create any bytes) is kept escaped (`shown_path`).
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field

from executor.backends.base import InvalidJob, OutputFile, validate_relative_path

MAX_PATH = 255
"""What a stored output file's path may hold (the database column)."""


@dataclass(slots=True)
class CollectedFiles:
    files: list[OutputFile] = field(default_factory=list)
    truncated: bool = False
    """Some files were left out: too many, too large, or the archive was cut short."""
    rejected: list[str] = field(default_factory=list)
    """Names of members that were not regular files or had unsafe names (for logs)."""


def read_output_files(
    data: bytes,
    *,
    strip_prefix: str = "",
    max_files: int,
    max_file_bytes: int,
    max_total_bytes: int | None = None,
    unchanged: Mapping[str, bytes] | None = None,
    cut_short: bool = False,
) -> CollectedFiles:
    """Parse ``data`` (a tar) and return its safe regular files.

    ``strip_prefix`` (e.g. ``"job/"``) is removed from member names; members outside it are
    dropped. Files equal to an entry in ``unchanged`` (the job's inputs) are not reported.
    ``cut_short`` says the caller stopped reading at a cap, so the result is flagged truncated.
    """
    result = CollectedFiles(truncated=cut_short)
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for member in tar:
                path = _safe_name(member.name, strip_prefix)
                if member.isdir() and path is not None:
                    continue
                if path is None or not member.isreg() or member.issparse():
                    result.rejected.append(member.name)
                    continue
                if member.size > max_file_bytes:
                    result.truncated = True
                    continue
                extracted = tar.extractfile(member)
                if extracted is None:
                    continue
                content = extracted.read()
                if len(content) != member.size:  # archive ended inside this member
                    result.truncated = True
                    break
                if unchanged is not None and unchanged.get(path) == content:
                    continue  # an input, as it came: it takes none of the caps
                if max_total_bytes is not None and total + member.size > max_total_bytes:
                    result.truncated = True
                    continue
                if len(result.files) >= max_files:
                    result.truncated = True
                    break
                total += member.size
                result.files.append(OutputFile.of(path, content))
    except (tarfile.TarError, EOFError):
        result.truncated = True
    result.files.sort(key=lambda f: f.path)
    return result


def _safe_name(name: str, strip_prefix: str) -> str | None:
    name = name.removeprefix("./")
    if strip_prefix:
        if not name.startswith(strip_prefix):
            return None if name.rstrip("/") != strip_prefix.rstrip("/") else ""
        name = name[len(strip_prefix) :]
    name = name.rstrip("/")
    if not name:
        return ""
    try:
        return shown_path(validate_relative_path(name))
    except InvalidJob:
        return None


def shown_path(path: str) -> str:
    """``path`` as Nimbus keeps it: a name that is not UTF-8 (its undecodable bytes arrive as
    surrogates) has each such byte written ``\\xNN``. No real name can look like that: a
    backslash is refused in every file name, so two files never get the same name.

    Raises `InvalidJob` when the escaped name is too long to keep."""
    try:
        path.encode()
    except UnicodeEncodeError:
        path = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        if len(path) > MAX_PATH:
            raise InvalidJob(f"file name too long once escaped: {path[:40]!r}...") from None
    return path


def build_input_tar(files: Mapping[str, bytes], *, root: str = "job", uid: int = 65534) -> bytes:
    """A tar whose first entry is ``root/`` (owned by ``uid``, mode 0700) holding ``files``.

    Parent directories are created owned by ``uid`` too, so the sandbox user can write in them.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        seen: set[str] = set()

        def add_dir(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o700
            info.uid = info.gid = uid
            tar.addfile(info)

        add_dir(root)
        for path in sorted(files):
            parts = validate_relative_path(path).split("/")
            for i in range(1, len(parts)):
                add_dir("/".join([root, *parts[:i]]))
            content = files[path]
            info = tarfile.TarInfo(f"{root}/{path}")
            info.size = len(content)
            info.mode = 0o600
            info.uid = info.gid = uid
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()
