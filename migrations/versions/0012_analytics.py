"""Analytics rollups: per-hour counters per bot, contact, keyword, flow, node, edge and answer.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_bot_hours",
        sa.Column("bot_id", sa.Uuid(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shard", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("messages_in", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("messages_out", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("new_contacts", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "conversations_started", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "conversations_completed", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "conversations_abandoned", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "conversations_handed_off", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("errors", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("response_ms_sum", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("responses", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "response_bucket_0", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "response_bucket_1", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "response_bucket_2", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "response_bucket_3", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "response_bucket_4", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "response_bucket_5", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "response_bucket_6", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "response_bucket_7", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "response_bucket_8", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["bots.id"],
            name=op.f("fk_analytics_bot_hours_bot_id_bots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("bot_id", "hour", "shard", name=op.f("pk_analytics_bot_hours")),
    )
    op.create_table(
        "analytics_keyword_hours",
        sa.Column("bot_id", sa.Uuid(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("keyword", sa.Text(), nullable=False),
        sa.Column("n", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["bots.id"],
            name=op.f("fk_analytics_keyword_hours_bot_id_bots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "bot_id", "hour", "keyword", name=op.f("pk_analytics_keyword_hours")
        ),
    )
    op.create_table(
        "analytics_answer_hours",
        sa.Column("flow_id", sa.Uuid(), nullable=False),
        sa.Column("node_id", sa.Text(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("bot_id", sa.Uuid(), nullable=False),
        sa.Column("n", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["bots.id"],
            name=op.f("fk_analytics_answer_hours_bot_id_bots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["flow_id"],
            ["flows.id"],
            name=op.f("fk_analytics_answer_hours_flow_id_flows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "flow_id", "node_id", "hour", "answer", name=op.f("pk_analytics_answer_hours")
        ),
    )
    op.create_index(
        "ix_analytics_answer_hours_bot_hour",
        "analytics_answer_hours",
        ["bot_id", "hour"],
        unique=False,
    )
    op.create_table(
        "analytics_contact_hours",
        sa.Column("bot_id", sa.Uuid(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("contact_since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["bots.id"],
            name=op.f("fk_analytics_contact_hours_bot_id_bots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_analytics_contact_hours_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "bot_id", "hour", "contact_id", name=op.f("pk_analytics_contact_hours")
        ),
    )
    op.create_table(
        "analytics_edge_hours",
        sa.Column("flow_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("handle", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shard", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("visits", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"],
            ["flows.id"],
            name=op.f("fk_analytics_edge_hours_flow_id_flows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "flow_id",
            "source",
            "handle",
            "target",
            "hour",
            "shard",
            name=op.f("pk_analytics_edge_hours"),
        ),
    )
    op.create_table(
        "analytics_flow_hours",
        sa.Column("flow_id", sa.Uuid(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shard", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("bot_id", sa.Uuid(), nullable=False),
        sa.Column("runs_started", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("runs_completed", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("runs_abandoned", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("runs_failed", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("runs_other", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "completed_duration_ms_sum",
            sa.BigInteger(),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["bots.id"],
            name=op.f("fk_analytics_flow_hours_bot_id_bots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["flow_id"],
            ["flows.id"],
            name=op.f("fk_analytics_flow_hours_flow_id_flows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("flow_id", "hour", "shard", name=op.f("pk_analytics_flow_hours")),
    )
    op.create_index(
        "ix_analytics_flow_hours_bot_hour", "analytics_flow_hours", ["bot_id", "hour"], unique=False
    )
    op.create_table(
        "analytics_node_hours",
        sa.Column("flow_id", sa.Uuid(), nullable=False),
        sa.Column("node_id", sa.Text(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shard", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("reached", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("visits", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("invalid", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("timeouts", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("errors", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("ended_completed", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("ended_dropped", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"],
            ["flows.id"],
            name=op.f("fk_analytics_node_hours_flow_id_flows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "flow_id", "node_id", "hour", "shard", name=op.f("pk_analytics_node_hours")
        ),
    )


def downgrade() -> None:
    op.drop_table("analytics_node_hours")
    op.drop_index("ix_analytics_flow_hours_bot_hour", table_name="analytics_flow_hours")
    op.drop_table("analytics_flow_hours")
    op.drop_table("analytics_edge_hours")
    op.drop_table("analytics_contact_hours")
    op.drop_index("ix_analytics_answer_hours_bot_hour", table_name="analytics_answer_hours")
    op.drop_table("analytics_answer_hours")
    op.drop_table("analytics_keyword_hours")
    op.drop_table("analytics_bot_hours")
