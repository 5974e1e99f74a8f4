"""Every table class, re-exported so Alembic and the app see one metadata."""

from api.models.login_failure import LoginFailure
from api.models.personal_access_token import PersonalAccessToken
from api.models.project import Project
from api.models.project_member import ProjectMember
from api.models.refresh_token import RefreshToken
from api.models.user import Role, User

__all__ = [
    "LoginFailure",
    "PersonalAccessToken",
    "Project",
    "ProjectMember",
    "RefreshToken",
    "Role",
    "User",
]
