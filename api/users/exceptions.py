"""Errors of user management."""

from api.errors import Conflict, Forbidden, NotFound


class UserNotFound(NotFound):
    code = "user_not_found"
    title = "No such user"


class CurrentPasswordRequired(Forbidden):
    code = "current_password_required"
    title = "Changing email or password needs the current password"


class LastAdmin(Conflict):
    code = "last_admin"
    title = "This would leave Nimbus without an active administrator"
