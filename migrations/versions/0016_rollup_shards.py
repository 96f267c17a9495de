"""The keyword and answer rollups split over shards like the other hot rollup rows: every flow
start of a bot's menu keyword, and every run ending with the same button, no longer waits for
the previous one's commit on a single row.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = {
    "analytics_keyword_hours": ("bot_id", "hour", "keyword"),
    "analytics_answer_hours": ("flow_id", "node_id", "hour", "answer"),
}


def upgrade() -> None:
    for table, keys in KEYS.items():
        op.add_column(
            table,
            sa.Column("shard", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        )
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, [*keys, "shard"])


def downgrade() -> None:
    for table, keys in KEYS.items():
        carried = (*keys, "bot_id") if "bot_id" not in keys else keys
        columns = ", ".join(carried)
        op.execute(  # fold every shard into shard 0 before the key loses them
            f"""WITH gone AS (DELETE FROM {table} WHERE shard <> 0 RETURNING *)
                INSERT INTO {table} AS t ({columns}, shard, n)
                SELECT {columns}, 0, sum(n) FROM gone GROUP BY {columns}
                ON CONFLICT ({", ".join(keys)}, shard) DO UPDATE SET n = t.n + excluded.n"""
        )
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, list(keys))
        op.drop_column(table, "shard")
