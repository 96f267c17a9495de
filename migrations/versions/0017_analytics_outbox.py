"""The analytics outbox: triggers on the raw tables write one fact per counted event in the
recording transaction (and NOTIFY `analytics_facts`); the worker's drainer folds them into the
rollups in batches, so the engine's transactions no longer upsert hot rollup rows themselves.

Setting `botbuilder.analytics_facts = off` on a connection (what `BOTBUILDER_ANALYTICS_ROLLUPS=
false` does) or in a transaction (the analytics bench's seed) writes no facts.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ON = "current_setting('botbuilder.analytics_facts', true) IS DISTINCT FROM 'off'"
# trigger name -> (table, event, condition beyond ON, the fact's columns and values)
FACTS = {
    "analytics_contact_fact": (
        "contacts",
        "INSERT",
        None,
        "(kind, at, subject, context) VALUES ('contact', NEW.created_at, NEW.id, NEW.bot_id)",
    ),
    "analytics_message_fact": (
        "messages",
        "INSERT",
        None,
        "(kind, at, subject, context, label) "
        "VALUES ('message', NEW.created_at, NEW.id, NEW.conversation_id, NEW.direction)",
    ),
    "analytics_opened_fact": (
        "conversations",
        "INSERT",
        None,
        "(kind, at, subject, context, detail) VALUES ('status', now(), NEW.id, NEW.bot_id, "
        "NEW.status)",
    ),
    "analytics_status_fact": (
        "conversations",
        "UPDATE OF status",
        "OLD.status IS DISTINCT FROM NEW.status",
        "(kind, at, subject, context, label, detail) "
        "VALUES ('status', now(), NEW.id, NEW.bot_id, OLD.status, NEW.status)",
    ),
    "analytics_run_fact": (
        "flow_runs",
        "INSERT",
        None,
        "(kind, at, subject, context, label) "
        "VALUES ('run', NEW.started_at, NEW.id, NEW.flow_id, NEW.variables ->> 'last_reply')",
    ),
    "analytics_end_fact": (
        "flow_runs",
        "UPDATE OF ended_at",
        "OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL",
        "(kind, at, subject, context, label) VALUES ('end', now(), NEW.id, NEW.flow_id, "
        "NEW.status)",
    ),
    "analytics_step_fact": (
        "flow_run_steps",
        "INSERT",
        None,
        "(kind, at, subject, number, label, detail) VALUES ('step', NEW.started_at, "
        "NEW.flow_run_id, NEW.sequence, NEW.node_id, NEW.outcome)",
    ),
}


def upgrade() -> None:
    op.create_table(
        "analytics_facts",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.Uuid(), nullable=False),
        sa.Column("context", sa.Uuid(), nullable=True),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_facts")),
    )
    # One NOTIFY per writing statement; PostgreSQL folds a transaction's identical ones.
    op.execute("""
        CREATE FUNCTION analytics_facts_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('analytics_facts', ''); RETURN NULL; END $$""")
    op.execute("""
        CREATE TRIGGER analytics_facts_notify AFTER INSERT ON analytics_facts
        FOR EACH STATEMENT EXECUTE FUNCTION analytics_facts_notify()""")
    for name, (table, event, condition, fact) in FACTS.items():
        op.execute(f"""
            CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO analytics_facts {fact}; RETURN NULL; END $$""")
        when = f"{condition} AND {ON}" if condition else ON
        op.execute(f"""
            CREATE TRIGGER {name} AFTER {event} ON {table}
            FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION {name}()""")


def downgrade() -> None:
    for name, (table, *_) in FACTS.items():
        op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute(f"DROP FUNCTION {name}()")
    op.drop_table("analytics_facts")
    op.execute("DROP FUNCTION analytics_facts_notify()")
