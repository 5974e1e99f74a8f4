"""Every table class, re-exported so Alembic and the app see one metadata."""

from api.db import metadata
from api.models.attachment import Attachment
from api.models.budget import Budget, BudgetPeriod
from api.models.budget_alert import BudgetAlert
from api.models.bug import Bug, BugStatus, Priority, Resolution, Severity
from api.models.bug_activity import BugActivity
from api.models.bug_label import BugLabel
from api.models.bug_watcher import BugWatcher
from api.models.comment import Comment
from api.models.expense import Expense
from api.models.expense_activity import ExpenseActivity
from api.models.expense_category import ExpenseCategory
from api.models.expense_idempotency_key import ExpenseIdempotencyKey
from api.models.job import Job, JobStatus
from api.models.job_event import JobEvent
from api.models.job_file import JobFile
from api.models.login_failure import LoginFailure
from api.models.notification import Notification
from api.models.outbox_message import OutboxMessage
from api.models.personal_access_token import PersonalAccessToken
from api.models.project import Project
from api.models.project_member import ProjectMember
from api.models.refresh_token import RefreshToken
from api.models.reproduction import Reproduction, Verdict
from api.models.user import Role, User
from api.models.webhook import Webhook


def _ids_never_reused() -> None:
    """Every table keyed by an integer id gets AUTOINCREMENT on SQLite, which would otherwise hand
    a deleted row's id (and old links naming it) to the next row. PostgreSQL sequences never go
    back; migration a7e3c9d41f20 did the same to existing tables."""
    for table in metadata.tables.values():
        key = list(table.primary_key.columns)
        if len(key) == 1 and key[0].name == "id" and key[0].type.python_type is int:
            table.dialect_kwargs["sqlite_autoincrement"] = True


_ids_never_reused()

__all__ = [
    "Attachment",
    "Budget",
    "BudgetAlert",
    "BudgetPeriod",
    "Bug",
    "BugActivity",
    "BugLabel",
    "BugStatus",
    "BugWatcher",
    "Comment",
    "Expense",
    "ExpenseActivity",
    "ExpenseCategory",
    "ExpenseIdempotencyKey",
    "Job",
    "JobEvent",
    "JobFile",
    "JobStatus",
    "LoginFailure",
    "Notification",
    "OutboxMessage",
    "PersonalAccessToken",
    "Priority",
    "Project",
    "ProjectMember",
    "RefreshToken",
    "Reproduction",
    "Resolution",
    "Role",
    "Severity",
    "User",
    "Verdict",
    "Webhook",
]
