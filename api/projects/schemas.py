"""Request and response models for projects and memberships."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.users.schemas import UserRead

ProjectKey = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z][A-Z0-9]{1,9}$"),
    Field(description="2-10 characters A-Z and 0-9, starting with a letter; prefixes bug keys"),
]
ProjectName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=20_000)]


class ProjectCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"key": "WEB", "name": "Website", "description": ""}]},
    )

    key: ProjectKey
    name: ProjectName
    description: Description = ""


class ProjectUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ProjectName | None = None
    description: Description | None = None


class ProjectCan(BaseModel):
    """What the caller may do with this project, from the permission table."""

    update: bool = Field(description="Rename it and change its description")
    delete: bool
    manage_members: bool
    file_bugs: bool
    manage_webhooks: bool
    manage_budget: bool


class ProjectRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "key": "WEB",
                    "name": "Website",
                    "description": "The public site",
                    "version": 1,
                    "created_at": "2026-11-21T10:00:00Z",
                    "updated_at": "2026-11-21T10:00:00Z",
                    "can": {
                        "update": False,
                        "delete": False,
                        "manage_members": False,
                        "file_bugs": True,
                        "manage_webhooks": False,
                        "manage_budget": False,
                    },
                }
            ]
        },
    )

    id: int
    key: str
    name: str
    description: str
    version: int
    created_at: datetime
    updated_at: datetime
    can: ProjectCan


class ProjectMemberRead(BaseModel):
    user: UserRead
    joined_at: datetime
    assignable: bool = Field(
        description="Whether bugs of the project can be assigned to this member now"
    )
