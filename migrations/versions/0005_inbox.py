"""The agent inbox and proactive starts: notes, the agent of a message, outreaches.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column:
    return sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False)


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    default = None if nullable else sa.text("now()")
    return sa.Column(name, sa.DateTime(timezone=True), server_default=default, nullable=nullable)


def _foreign(column: str, table: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.add_column("messages", sa.Column("sent_by_user_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_messages_sent_by_user_id_users"),
        "messages",
        "users",
        ["sent_by_user_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_table(
        "conversation_notes",
        _id(),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("author_user_id", sa.Uuid(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        _timestamp("created_at"),
        _foreign("author_user_id", "conversation_notes", "users", "SET NULL"),
        _foreign("conversation_id", "conversation_notes", "conversations", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_notes")),
    )
    op.create_index(
        op.f("ix_conversation_notes_conversation_id"), "conversation_notes", ["conversation_id"]
    )
    op.create_table(
        "outreaches",
        _id(),
        sa.Column("bot_id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("flow_id", sa.Uuid(), nullable=False),
        sa.Column("flow_version_id", sa.Uuid(), nullable=False),
        sa.Column("workflow_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="running", nullable=False),
        sa.Column("messages_per_second", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        _timestamp("created_at"),
        _timestamp("finished_at", nullable=True),
        sa.CheckConstraint("status IN ('running', 'completed')", name=op.f("ck_outreaches_status")),
        _foreign("bot_id", "outreaches", "bots", "CASCADE"),
        _foreign("channel_id", "outreaches", "channels", "CASCADE"),
        _foreign("created_by", "outreaches", "users", "SET NULL"),
        _foreign("flow_id", "outreaches", "flows", "CASCADE"),
        _foreign("flow_version_id", "outreaches", "flow_versions", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreaches")),
        sa.UniqueConstraint("workflow_id", name=op.f("uq_outreaches_workflow_id")),
    )
    op.create_index(op.f("ix_outreaches_bot_id"), "outreaches", ["bot_id"])
    op.create_table(
        "outreach_contacts",
        _id(),
        sa.Column("outreach_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("conversation_id", sa.Uuid(), nullable=True),
        _timestamp("updated_at", nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'started', 'failed')", name=op.f("ck_outreach_contacts_status")
        ),
        _foreign("conversation_id", "outreach_contacts", "conversations", "SET NULL"),
        _foreign("outreach_id", "outreach_contacts", "outreaches", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_contacts")),
        sa.UniqueConstraint(
            "outreach_id", "position", name=op.f("uq_outreach_contacts_outreach_id_position")
        ),
    )


def downgrade() -> None:
    for table in ("outreach_contacts", "outreaches", "conversation_notes"):
        op.drop_table(table)
    op.drop_constraint(op.f("fk_messages_sent_by_user_id_users"), "messages", type_="foreignkey")
    op.drop_column("messages", "sent_by_user_id")
