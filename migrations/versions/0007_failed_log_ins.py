"""Failed log-ins, counted per email to lock out password guessing.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
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


def downgrade() -> None:
    op.drop_index(op.f("ix_failed_log_ins_email"), table_name="failed_log_ins")
    op.drop_table("failed_log_ins")
