"""Optimistic concurrency: `version` columns exposed as ETags and checked against If-Match."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Response

from api.errors import PreconditionFailed

IfMatch = Annotated[
    str | None,
    Header(description='ETag from a previous read, e.g. "3"; a stale one gets 412'),
]


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def check_if_match(if_match: str | None, version: int) -> None:
    """No header: last write wins (curl-friendly). A header that does not match: 412."""
    if if_match is None:
        return
    candidates = {c.strip().removeprefix("W/") for c in if_match.split(",")}
    if "*" in candidates or etag(version) in candidates:
        return
    raise PreconditionFailed(
        f"If-Match {if_match} does not match the current version {etag(version)}",
        extra={"current_version": version},
    )
