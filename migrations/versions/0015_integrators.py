"""An index answering "has this run run this node before?" for the step rollups; flows' own
trigger secrets and the signed triggers' accepted `webhook-id`s.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_flow_run_steps_run_node",
        "flow_run_steps",
        ["flow_run_id", "node_id", "sequence"],
        unique=False,
    )
    op.create_table(
        "flow_trigger_secrets",
        sa.Column("flow_id", sa.Uuid(), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["flow_id"], ["flows.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("flow_id"),
    )
    op.create_table(
        "accepted_trigger_ids",
        sa.Column("flow_id", sa.Uuid(), nullable=False),
        sa.Column("webhook_id", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["flow_id"], ["flows.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("flow_id", "webhook_id"),
    )


def downgrade() -> None:
    op.drop_table("accepted_trigger_ids")
    op.drop_table("flow_trigger_secrets")
    op.drop_index("ix_flow_run_steps_run_node", table_name="flow_run_steps")
