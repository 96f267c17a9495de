"""When the contact last wrote, on the conversation: the 24-hour window of a WhatsApp send reads
one row instead of every inbound message of the conversation.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "conversations", sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(  # the provider's timestamp, else when we stored it (what the send read before)
        """UPDATE conversations c SET last_inbound_at = m.at
           FROM (SELECT conversation_id,
                        max(coalesce(CAST(content ->> 'timestamp' AS timestamptz), created_at))
                          AS at
                 FROM messages WHERE direction = 'inbound' GROUP BY conversation_id) m
           WHERE m.conversation_id = c.id"""
    )


def downgrade() -> None:
    op.drop_column("conversations", "last_inbound_at")
