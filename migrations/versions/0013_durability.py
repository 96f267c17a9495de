"""Outbound messages may be `sending`: committed right before the provider call.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = ("received", "pending", "sent", "delivered", "read", "failed")
AFTER = ("received", "pending", "sending", "sent", "delivered", "read", "failed")


def _status_check(statuses: tuple[str, ...]) -> None:
    op.drop_constraint(op.f("ck_messages_status"), "messages", type_="check")
    allowed = ", ".join(f"'{status}'" for status in statuses)
    op.create_check_constraint(op.f("ck_messages_status"), "messages", f"status IN ({allowed})")


def upgrade() -> None:
    _status_check(AFTER)


def downgrade() -> None:
    op.execute("UPDATE messages SET status = 'pending' WHERE status = 'sending'")
    _status_check(BEFORE)
