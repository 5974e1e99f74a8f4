"""Response models for attachments."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class AttachmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    bug_id: int | None = Field(description="The bug it is attached to, or null for a receipt")
    expense_id: int | None = Field(default=None, description="The expense it is a receipt of")
    uploader_id: int
    filename: str
    content_type: str = Field(description="As proven by the file's bytes")
    size: int
    sha256: str
    created_at: datetime
    download_url: str = ""
