"""Storing a flow run's executed nodes: one row per step, written once however often retried.

The engine hands over the steps a run executed since it last stored any, either on their own
(before the run waits) or with the message the run sends next, in that send's transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from models.payloads.engine import StepRecord
from services.webhooks import outbox as webhook_outbox

# A run's steps and its current node (the last step's) in one statement, compiled once: the
# rows go as one JSON array. Written as SQL, like the run's start and end (`flow_runs`).
STORE_STEPS = text(
    """
WITH stored AS (
  INSERT INTO flow_run_steps (flow_run_id, sequence, node_id, node_type, outcome, started_at,
                              ended_at, duration_ms, error, output)
  SELECT flow_run_id, sequence, node_id, node_type, outcome, started_at, ended_at, duration_ms,
         error, output
  FROM jsonb_to_recordset(:rows) AS step(flow_run_id uuid, sequence int, node_id text,
       node_type text, outcome text, started_at timestamptz, ended_at timestamptz,
       duration_ms int, error jsonb, output jsonb)
  ON CONFLICT (flow_run_id, sequence) DO NOTHING
)
UPDATE flow_runs SET current_node_id = :node_id WHERE id = :run_id
"""
).bindparams(bindparam("rows", type_=JSONB))


def step_row(step: StepRecord) -> dict[str, Any]:
    started = datetime.fromisoformat(step.started_at)
    ended = datetime.fromisoformat(step.ended_at)
    return {
        "flow_run_id": step.run_id,
        "sequence": step.sequence,
        "node_id": step.node_id,
        "node_type": step.node_type,
        "outcome": step.outcome,
        "started_at": step.started_at,
        "ended_at": step.ended_at,
        "error": step.error,
        "output": step.output,
        "duration_ms": int((ended - started).total_seconds() * 1000),
    }


async def store_steps(session: AsyncSession, steps: list[StepRecord]) -> None:
    """Store a run's steps (in order, not empty) in the session's transaction: their rows, the
    run's current node and `error.occurred` events (the analytics facts come from a trigger on
    the rows); a retry adds nothing."""
    last = steps[-1]
    await session.execute(
        STORE_STEPS,
        {
            "rows": [step_row(step) for step in steps],
            "run_id": uuid.UUID(last.run_id),
            "node_id": last.node_id,
        },
    )
    await webhook_outbox.node_errors(session, steps)
