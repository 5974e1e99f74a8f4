"""Uploads streamed to storage with a size cap and a content check; visibility-checked reads."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.attachments.exceptions import AttachmentNotFound, ContentTypeMismatch, FileTooLarge
from api.attachments.repository import forget_blobs
from api.bugs import activity
from api.bugs.service import get_visible_bug
from api.errors import Forbidden
from api.models import Attachment, User
from api.permissions import has_permission
from api.storage import Storage
from api.storage.backends import CHUNK, new_key
from api.storage.names import GENERIC, is_text, safe_filename, sniff

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


async def attach_to_bug(
    session: AsyncSession,
    storage: Storage,
    user: User,
    bug_ref: str,
    upload: Upload,
    max_bytes: int,
) -> Attachment:
    bug, _ = await get_visible_bug(session, user, bug_ref)
    assert bug.id is not None and user.id is not None
    key, content_type, size, sha256 = await store_upload(storage, upload, max_bytes)
    try:
        attachment = Attachment(
            bug_id=bug.id,
            uploader_id=user.id,
            filename=safe_filename(upload.filename),
            content_type=content_type,
            size=size,
            sha256=sha256,
            storage_key=key,
        )
        session.add(attachment)
        await session.flush()
        activity.record(session, bug.id, "attachment", None, attachment.filename)
    except BaseException:
        await storage.delete(key)  # the row never existed: leave no orphan blob
        raise
    return attachment


async def list_for_bug(session: AsyncSession, user: User, bug_ref: str) -> list[Attachment]:
    bug, _ = await get_visible_bug(session, user, bug_ref)
    rows = await session.scalars(
        select(Attachment).where(col(Attachment.bug_id) == bug.id).order_by(col(Attachment.id))
    )
    return list(rows)


async def get_visible(session: AsyncSession, user: User, attachment_id: int) -> Attachment:
    attachment = await session.get(Attachment, attachment_id)
    if attachment is None or attachment.bug_id is None:
        raise AttachmentNotFound()
    try:
        await get_visible_bug(session, user, str(attachment.bug_id))
    except Exception as exc:
        raise AttachmentNotFound() from exc
    return attachment


async def delete(session: AsyncSession, user: User, attachment_id: int) -> None:
    attachment = await get_visible(session, user, attachment_id)
    if attachment.uploader_id != user.id and not has_permission(user.role, "bugs:edit_any"):
        raise Forbidden("Only the uploader or an admin can delete an attachment")
    assert attachment.bug_id is not None
    activity.record(session, attachment.bug_id, "attachment", attachment.filename, None)
    await session.delete(attachment)
    forget_blobs(session, [attachment.storage_key])
