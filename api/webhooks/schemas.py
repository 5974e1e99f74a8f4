"""Request and response models for project webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

WebhookEvent = Literal["bug.created", "bug.updated", "bug.transitioned", "comment.created"]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"url": "https://ci.example.com/nimbus", "events": ["bug.created"]}]
        },
    )

    url: str = Field(max_length=2000)
    events: list[WebhookEvent] = Field(min_length=1, max_length=10)


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    url: str
    events: list[str]
    is_active: bool
    consecutive_failures: int
    created_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="Signing secret; shown only in this response")
