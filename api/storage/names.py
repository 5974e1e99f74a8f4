"""Download headers and content sniffing for user-supplied files."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

import puremagic

# Declared types we trust only when the bytes agree; anything else is served as what it is.
GENERIC = {"application/octet-stream", ""}


def safe_filename(name: str | None) -> str:
    """A display name: no directories, no control characters, at most 200 characters."""
    base = (name or "file").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip(" .")
    return (cleaned or "file")[:200]


def content_disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def sniff(head: bytes) -> str | None:
    """The MIME type the first bytes prove, or None when they prove nothing (e.g. plain text)."""
    if not head:
        return None
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return None
    for match in matches:
        if match.mime_type:
            return str(match.mime_type)
    return None


def is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        return exc.start >= len(head) - 3
    return b"\x00" not in head
