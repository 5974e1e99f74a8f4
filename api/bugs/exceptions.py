"""Errors of the bug tracker."""

from api.errors import Conflict, Forbidden, NotFound, UnprocessableEntity


class BugNotFound(NotFound):
    code = "bug_not_found"
    title = "No such bug, or you cannot see it"


class CommentNotFound(NotFound):
    code = "comment_not_found"
    title = "No such comment, or you cannot see it"


class InvalidTransition(Conflict):
    code = "invalid_transition"
    title = "This status change is not allowed"


class InvalidAssignee(UnprocessableEntity):
    code = "invalid_assignee"
    title = "Only developers who are members of the project can be assigned"


class NotBugEditor(Forbidden):
    code = "not_bug_editor"
    title = "Only the reporter, the assignee or an admin can edit this bug"


class NotCommentAuthor(Forbidden):
    code = "not_comment_author"
    title = "Only the author or an admin can change this comment"


class NoReproScript(Conflict):
    code = "no_repro_script"
    title = "This bug has no reproduction script to run"


class TooManyLabels(UnprocessableEntity):
    code = "too_many_labels"
    title = "A bug cannot have that many labels"


class StillReproduces(Conflict):
    code = "still_reproduces"
    title = "The bug's reproduction still fails"
