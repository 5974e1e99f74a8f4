"""Who watches a bug (notified of its changes)."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class BugWatcher(SQLModel, table=True):
    __tablename__ = "bug_watcher"

    bug_id: int = Field(foreign_key="bug.id", ondelete="CASCADE", primary_key=True)
    user_id: int = Field(
        foreign_key="user_account.id", ondelete="CASCADE", primary_key=True, index=True
    )
