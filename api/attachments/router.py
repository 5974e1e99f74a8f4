"""Bug attachments and expense receipts: streamed upload, listing, download and deletion."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Header, Path, Request, Response, UploadFile, status
from fastapi.responses import RedirectResponse, StreamingResponse

from api.attachments import service
from api.attachments.exceptions import FileTooLarge
from api.attachments.schemas import AttachmentRead
from api.auth.deps import CurrentUser
from api.deps import SessionDep, SettingsDep, StorageDep
from api.errors import error_responses
from api.middleware import MULTIPART_FRAMING, CheckedJsonRoute, body_limit
from api.pagination import Page, Pages, linked_page

router = APIRouter(route_class=CheckedJsonRoute, tags=["attachments"])

BugRef = Annotated[str, Path(max_length=30, description="Bug id or key")]
PRESIGNED_TTL_S = 60


def _read(a: object) -> AttachmentRead:
    read = AttachmentRead.model_validate(a)
    read.download_url = f"/api/v1/attachments/{read.id}/download"
    return read


async def reject_oversized(request: Request, settings: SettingsDep) -> None:
    """Refuse a declared oversize body before reading a byte of it."""
    length = request.headers.get("content-length", "")
    if length.isdecimal() and int(length) > settings.attachment_max_bytes + 64 * 1024:
        raise FileTooLarge(f"Uploads are limited to {settings.attachment_max_bytes} bytes")


@router.post(
    "/bugs/{bug_id}/attachments",
    status_code=status.HTTP_201_CREATED,
    summary="Attach a file to a bug (multipart field 'file')",
    responses=error_responses(401, 404, 413, 415, 422, 503, 507),
    dependencies=[Depends(reject_oversized)],
)
@body_limit(lambda settings: settings.attachment_max_bytes + MULTIPART_FRAMING)
async def upload_attachment(
    bug_id: BugRef,
    file: Annotated[UploadFile, File(description="The file; its bytes must match its type")],
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
) -> AttachmentRead:
    attachment = await service.attach_to_bug(
        session, storage, user, bug_id, file, settings.attachment_max_bytes
    )
    return _read(attachment)


@router.get(
    "/bugs/{bug_id}/attachments",
    summary="List a bug's attachments",
    responses=error_responses(400, 401, 404),
)
async def list_attachments(
    bug_id: BugRef,
    user: CurrentUser,
    session: SessionDep,
    params: Pages,
    request: Request,
    response: Response,
) -> Page[AttachmentRead]:
    rows, cursor = await service.list_for_bug(session, user, bug_id, params)
    return linked_page(request, response, [_read(a) for a in rows], cursor)


@router.post(
    "/expenses/{expense_id}/attachments",
    status_code=status.HTTP_201_CREATED,
    summary="Attach a receipt to an expense (multipart field 'file')",
    responses=error_responses(401, 403, 404, 409, 413, 415, 422, 503, 507),
    dependencies=[Depends(reject_oversized)],
)
@body_limit(lambda settings: settings.attachment_max_bytes + MULTIPART_FRAMING)
async def upload_receipt(
    expense_id: int,
    file: Annotated[UploadFile, File(description="The receipt: an image, a PDF, ...")],
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
) -> AttachmentRead:
    attachment = await service.attach_receipt(
        session, storage, user, expense_id, file, settings.attachment_max_bytes
    )
    return _read(attachment)


@router.get(
    "/expenses/{expense_id}/attachments",
    summary="List an expense's receipts",
    responses=error_responses(400, 401, 404),
)
async def list_receipts(
    expense_id: int,
    user: CurrentUser,
    session: SessionDep,
    params: Pages,
    request: Request,
    response: Response,
) -> Page[AttachmentRead]:
    rows, cursor = await service.list_receipts(session, user, expense_id, params)
    return linked_page(request, response, [_read(a) for a in rows], cursor)


@router.get(
    "/attachments/{attachment_id}/download",
    summary="Download an attachment (a short-lived redirect on S3)",
    response_class=StreamingResponse,
    responses={
        **error_responses(401, 404, 416, 503),
        200: {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            }
        },
        206: {"description": "The requested byte range"},
    },
)
async def download_attachment(
    attachment_id: int,
    user: CurrentUser,
    session: SessionDep,
    storage: StorageDep,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    download = await service.download(
        session, storage, user, attachment_id, range_header, PRESIGNED_TTL_S
    )
    if download.redirect_to is not None:
        return RedirectResponse(
            download.redirect_to, status_code=status.HTTP_307_TEMPORARY_REDIRECT
        )
    assert download.chunks is not None
    return StreamingResponse(
        download.chunks,
        status_code=status.HTTP_206_PARTIAL_CONTENT if download.partial else status.HTTP_200_OK,
        media_type=download.media_type,
        headers=download.headers,
    )


@router.delete(
    "/attachments/{attachment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an attachment (bug: uploader or admin; receipt: the expense's editors)",
    responses=error_responses(401, 403, 404),
)
async def delete_attachment(attachment_id: int, user: CurrentUser, session: SessionDep) -> None:
    await service.delete(session, user, attachment_id)
