"""Security: log-in attempts counted atomically per email and source, and a token generation
per user (log out everywhere revokes access tokens too).

Replaces `failed_log_ins` (one row per failure, counted after the fact) by `log_in_attempts`
(one counter row per email and source, reserved before the password is checked).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f("ix_failed_log_ins_email"), table_name="failed_log_ins")
    op.drop_table("failed_log_ins")
    op.create_table(
        "log_in_attempts",
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("email", "source", name=op.f("pk_log_in_attempts")),
    )
    op.create_index(
        op.f("ix_log_in_attempts_window_started_at"), "log_in_attempts", ["window_started_at"]
    )
    op.add_column(
        "users",
        sa.Column("token_generation", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("users", "token_generation")
    op.drop_index(op.f("ix_log_in_attempts_window_started_at"), table_name="log_in_attempts")
    op.drop_table("log_in_attempts")
    op.create_table(
        "failed_log_ins",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column(
            "failed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failed_log_ins")),
    )
    op.create_index(op.f("ix_failed_log_ins_email"), "failed_log_ins", ["email"])
