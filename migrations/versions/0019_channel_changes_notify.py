"""A channel's change (edited, disconnected, deleted, also with its bot) NOTIFYs `bb_channels`
with its id at commit: each API process's ingress remembers channels only while it hears this
(`graphql_api/http/active_channels.py`).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""
        CREATE FUNCTION channels_changed_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('bb_channels', CAST(OLD.id AS text));
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE TRIGGER channels_changed_notify AFTER UPDATE OR DELETE ON channels
        FOR EACH ROW EXECUTE FUNCTION channels_changed_notify()""")


def downgrade() -> None:
    op.execute("DROP TRIGGER channels_changed_notify ON channels")
    op.execute("DROP FUNCTION channels_changed_notify()")
