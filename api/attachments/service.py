"""Uploads streamed to storage with a size cap and a content check; visibility-checked reads."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.attachments.exceptions import (
    AttachmentNotFound,
    ContentTypeMismatch,
    FileTooLarge,
    RangeNotSatisfiable,
)
from api.attachments.repository import forget_blobs
from api.bugs import activity
from api.bugs.service import get_visible_bug
from api.errors import Forbidden, NotFound
from api.expenses import service as expenses
from api.expenses.exceptions import ExpenseDeleted
from api.models import Attachment, User
from api.pagination import PageParams, creation_order, paginate
from api.permissions import may
from api.storage import Storage
from api.storage.backends import CHUNK, BlobNotFound, new_key
from api.storage.names import GENERIC, content_disposition, is_text, safe_filename, sniff

ALIASES = {"image/jpg": "image/jpeg", "application/x-zip-compressed": "application/zip"}
TEXTUAL = ("text/", "application/json", "application/xml", "application/x-yaml", "application/csv")


class Upload(Protocol):
    filename: str | None
    content_type: str | None

    async def read(self, size: int = -1) -> bytes: ...


def checked_type(declared: str | None, head: bytes) -> str:
    """The content type to store: the declared one when the bytes agree, else 415."""
    declared = ALIASES.get(
        (declared or "").split(";")[0].strip().lower(),
        (declared or "").split(";")[0].strip().lower(),
    )
    proven = sniff(head)
    if declared in GENERIC:
        return proven or ("text/plain" if is_text(head) else "application/octet-stream")
    if declared.startswith(TEXTUAL):
        if is_text(head):
            return declared
    elif proven is not None and ALIASES.get(proven, proven) == declared:
        return declared
    looks_like = proven or ("text" if is_text(head) else "unknown binary")
    raise ContentTypeMismatch(f"Declared {declared}, but the content looks like {looks_like}")


async def store_upload(
    storage: Storage, upload: Upload, max_bytes: int
) -> tuple[str, str, int, str]:
    """Stream the upload into storage; returns (key, content_type, size, sha256)."""
    head = await upload.read(CHUNK)
    content_type = checked_type(upload.content_type, head[:4096])
    digest = hashlib.sha256()

    async def chunks() -> AsyncIterator[bytes]:
        size = 0
        chunk = head
        while chunk:
            size += len(chunk)
            if size > max_bytes:
                raise FileTooLarge(f"Uploads are limited to {max_bytes} bytes")
            digest.update(chunk)
            yield chunk
            chunk = await upload.read(CHUNK)

    key = new_key("attachments")
    size = await storage.put(key, chunks(), content_type)
    return key, content_type, size, digest.hexdigest()


async def _save(
    session: AsyncSession,
    storage: Storage,
    user: User,
    upload: Upload,
    max_bytes: int,
    *,
    bug_id: int | None = None,
    expense_id: int | None = None,
) -> Attachment:
    """Stream the bytes to storage, then add the row; a failure leaves no orphan blob."""
    assert user.id is not None
    key, content_type, size, sha256 = await store_upload(storage, upload, max_bytes)
    try:
        attachment = Attachment(
            bug_id=bug_id,
            expense_id=expense_id,
            uploader_id=user.id,
            filename=safe_filename(upload.filename),
            content_type=content_type,
            size=size,
            sha256=sha256,
            storage_key=key,
        )
        session.add(attachment)
        await session.flush()
    except BaseException:
        await storage.delete(key)
        raise
    return attachment


async def attach_to_bug(
    session: AsyncSession,
    storage: Storage,
    user: User,
    bug_ref: str,
    upload: Upload,
    max_bytes: int,
) -> Attachment:
    bug, _ = await get_visible_bug(session, user, bug_ref)
    assert bug.id is not None
    attachment = await _save(session, storage, user, upload, max_bytes, bug_id=bug.id)
    activity.record(session, bug.id, "attachment", None, attachment.filename)
    return attachment


async def attach_receipt(
    session: AsyncSession,
    storage: Storage,
    user: User,
    expense_id: int,
    upload: Upload,
    max_bytes: int,
) -> Attachment:
    """A receipt on an expense the caller may edit; a deleted expense must be restored first."""
    expense = await expenses.editable_expense(session, user, expense_id)
    if expense.deleted_at is not None:
        raise ExpenseDeleted()
    attachment = await _save(session, storage, user, upload, max_bytes, expense_id=expense_id)
    expenses.record(session, expense_id, "receipt", None, attachment.filename)
    return attachment


async def list_for_bug(
    session: AsyncSession, user: User, bug_ref: str, params: PageParams
) -> tuple[list[Attachment], str | None]:
    bug, _ = await get_visible_bug(session, user, bug_ref)
    return await _list(session, col(Attachment.bug_id) == bug.id, params)


async def list_receipts(
    session: AsyncSession, user: User, expense_id: int, params: PageParams
) -> tuple[list[Attachment], str | None]:
    await expenses.get_expense(session, user, expense_id)
    return await _list(session, col(Attachment.expense_id) == expense_id, params)


async def _list(
    session: AsyncSession, owner: ColumnElement[bool], params: PageParams
) -> tuple[list[Attachment], str | None]:
    key = creation_order(params.sort, col(Attachment.id))
    return await paginate(session, select(Attachment).where(owner), key, params)


async def get_visible(session: AsyncSession, user: User, attachment_id: int) -> Attachment:
    """The attachment if the caller may see what it hangs off; 404 otherwise."""
    attachment = await session.get(Attachment, attachment_id)
    if attachment is None:
        raise AttachmentNotFound()
    try:
        if attachment.bug_id is not None:
            await get_visible_bug(session, user, str(attachment.bug_id))
        else:
            assert attachment.expense_id is not None
            await expenses.get_expense(session, user, attachment.expense_id)
    except NotFound as exc:
        raise AttachmentNotFound() from exc
    return attachment


@dataclass(frozen=True)
class Download:
    """How to answer a download: a redirect to the blob store, or the bytes (all, or a range)."""

    redirect_to: str | None = None
    chunks: AsyncIterator[bytes] | None = None
    partial: bool = False
    media_type: str = "application/octet-stream"
    headers: dict[str, str] | None = None


async def download(
    session: AsyncSession,
    storage: Storage,
    user: User,
    attachment_id: int,
    range_header: str | None,
    presigned_ttl_s: int,
) -> Download:
    """The attachment ``user`` may see, as a short-lived redirect where the store offers one
    (S3), else streamed from storage: the byte range asked for, or the whole file."""
    a = await get_visible(session, user, attachment_id)
    try:
        url = await storage.presigned_url(
            a.storage_key, a.filename, a.content_type, presigned_ttl_s
        )
    except BlobNotFound as exc:
        raise AttachmentNotFound("The attachment's file is missing from storage") from exc
    if url is not None:
        return Download(redirect_to=url)
    headers = {
        "Content-Disposition": content_disposition(a.filename),
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
    }
    wanted = byte_range(range_header, a.size)
    if wanted is None:
        headers["Content-Length"] = str(a.size)
        return Download(
            chunks=storage.get(a.storage_key), media_type=a.content_type, headers=headers
        )
    start, end = wanted
    headers["Content-Length"] = str(end - start + 1)
    headers["Content-Range"] = f"bytes {start}-{end}/{a.size}"
    return Download(
        chunks=storage.get(a.storage_key, start, end),
        partial=True,
        media_type=a.content_type,
        headers=headers,
    )


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One `bytes=a-b`, `bytes=a-` or `bytes=-n` range; anything else means the whole file."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header.removeprefix("bytes=").strip().partition("-")
    if not (first.isdecimal() or last.isdecimal()):
        return None
    if first == "":
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last.isdecimal() else size - 1
    if start > end or start >= size:
        raise RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    return start, end


async def delete(session: AsyncSession, user: User, attachment_id: int) -> None:
    attachment = await get_visible(session, user, attachment_id)
    if attachment.bug_id is not None:
        if not may(user.role, "attachments:delete", own=attachment.uploader_id == user.id):
            raise Forbidden("Only the uploader or an admin can delete an attachment")
        activity.record(session, attachment.bug_id, "attachment", attachment.filename, None)
    else:
        assert attachment.expense_id is not None
        await expenses.editable_expense(session, user, attachment.expense_id)
        expenses.record(session, attachment.expense_id, "receipt", attachment.filename, None)
    await session.delete(attachment)
    forget_blobs(session, [attachment.storage_key])
