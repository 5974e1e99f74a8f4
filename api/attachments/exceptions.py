"""Errors of file uploads and downloads."""

from api.errors import AppError, NotFound


class AttachmentNotFound(NotFound):
    code = "attachment_not_found"
    title = "No such attachment, or you cannot see it"


class FileTooLarge(AppError):
    status = 413
    code = "file_too_large"
    title = "The file is larger than the upload limit"


class RangeNotSatisfiable(AppError):
    status = 416
    code = "range_not_satisfiable"
    title = "The requested byte range is outside the file"


class ContentTypeMismatch(AppError):
    status = 415
    code = "content_type_mismatch"
    title = "The file's bytes do not match its declared content type"
