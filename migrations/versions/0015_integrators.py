"""An index answering "has this run run this node before?" for the step rollups.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_flow_run_steps_run_node", "flow_run_steps", ["flow_run_id", "node_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_flow_run_steps_run_node", table_name="flow_run_steps")
