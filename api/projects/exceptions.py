"""Errors of projects and memberships."""

from api.errors import Conflict, NotFound


class ProjectNotFound(NotFound):
    code = "project_not_found"
    title = "No such project, or you are not a member of it"


class ProjectKeyTaken(Conflict):
    code = "project_key_taken"
    title = "Another project already uses this key"


class MemberNotFound(NotFound):
    code = "member_not_found"
    title = "This user is not a member of the project"
