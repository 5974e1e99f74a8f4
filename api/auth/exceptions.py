"""Errors of registration, login and tokens."""

from api.errors import Conflict, Forbidden, InvalidToken, NotFound, UnprocessableEntity


class RegistrationClosed(Forbidden):
    code = "registration_closed"
    title = "Self-registration is closed; ask an administrator for an account"


class EmailTaken(Conflict):
    code = "email_taken"
    title = "An account with this email already exists"


class AccountInactive(Forbidden):
    code = "account_inactive"
    title = "This account has been deactivated"


class RefreshTokenReused(InvalidToken):
    code = "refresh_token_reused"
    title = "This refresh token was already used; every session of this login has been revoked"


class TokenNotFound(NotFound):
    code = "token_not_found"
    title = "No such personal access token"


class WeakPassword(UnprocessableEntity):
    code = "weak_password"
    title = "The password is too easy to guess"

    def __init__(self, detail: str, *, reason: str) -> None:
        issue = {"loc": ["body", "password"], "msg": detail, "type": self.code}
        super().__init__(detail, extra={"reason": reason, "errors": [issue]})
