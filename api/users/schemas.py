"""Request and response models for user accounts."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator
from pydantic.config import JsonDict

from api.auth.schemas import FullName, Password, TokenPair
from api.models import Role, User
from api.permissions import NEW_ACCOUNT_ROLE, permissions_of

_USER_EXAMPLE: JsonDict = {
    "id": 2,
    "email": "dev@example.com",
    "full_name": "Ada Developer",
    "role": "developer",
    "is_active": True,
    "email_notifications": True,
    "version": 1,
    "created_at": "2026-11-21T10:00:00Z",
    "updated_at": "2026-11-21T10:00:00Z",
}


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_USER_EXAMPLE]})

    id: int
    email: str
    full_name: str
    role: Role
    is_active: bool
    email_notifications: bool
    version: int
    created_at: datetime
    updated_at: datetime


class MeRead(UserRead):
    """My profile, with what my role allows: the web app decides from this, never from a role."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_USER_EXAMPLE,
                    "permissions": ["projects:read", "bugs:create", "bugs:assign"],
                }
            ]
        },
    )

    permissions: list[str] = Field(
        description="The permissions my role holds (names as in GET /roles)"
    )

    @classmethod
    def of(cls, user: User) -> MeRead:
        fields = UserRead.model_validate(user).__dict__  # validated once, not twice
        return cls.model_construct(**fields, permissions=permissions_of(user.role))


class UserCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "dev@example.com",
                    "password": "another long one",
                    "full_name": "Ada Developer",
                    "role": "developer",
                }
            ]
        },
    )

    email: EmailStr = Field(max_length=320)
    password: Password
    full_name: FullName
    role: Role = NEW_ACCOUNT_ROLE


class UserUpdate(BaseModel):
    """Admin edit of any account."""

    model_config = ConfigDict(extra="forbid")

    full_name: FullName | None = None
    email: EmailStr | None = Field(default=None, max_length=320)
    role: Role | None = None
    is_active: bool | None = None


class MeUpdate(BaseModel):
    """Own profile. Changing email or password needs the current password."""

    model_config = ConfigDict(extra="forbid")

    full_name: FullName | None = None
    email: EmailStr | None = Field(default=None, max_length=320)
    email_notifications: bool | None = None
    password: Password | None = None
    current_password: str | None = Field(default=None, max_length=256)
    keep_tokens: bool = Field(
        default=False,
        description="With a new password: keep my personal access tokens working (otherwise "
        "they are revoked with every session). Only if nobody else can have them.",
    )

    @model_validator(mode="after")
    def _keep_tokens_needs_a_password(self) -> MeUpdate:
        if self.keep_tokens and self.password is None:
            raise ValueError("keep_tokens applies only to a password change")
        return self


class MeUpdated(MeRead):
    """My profile after an edit; a new password also ends every session and gives a new one."""

    session: TokenPair | None = Field(
        default=None,
        description="Set when this edit changed the password: a fresh token pair. Every access "
        "token and refresh token from before stopped working, and so did the personal access "
        "tokens unless `keep_tokens` was set.",
    )
    warnings: list[str] = Field(default_factory=list)
