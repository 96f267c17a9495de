"""Storing a flow run's executed nodes: one row per step, written once however often retried.

The engine hands over the steps a run executed since it last stored any, either on their own
(before the run waits) or with the message the run sends next, in that send's transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.conversation_tables import FlowRun, FlowRunStep
from models.payloads.engine import StepRecord
from services.webhooks import outbox as webhook_outbox

# One statement for any number of rows, compiled once: the rows go as executemany parameters,
# which SQLAlchemy sends as one multi-row INSERT (a `.values(rows)` list compiles per call).
NEW_STEPS = insert(FlowRunStep.__table__).on_conflict_do_nothing(
    index_elements=["flow_run_id", "sequence"]
)
RUNS = FlowRun.__table__
CURRENT_NODE = (
    update(RUNS)
    .where(RUNS.c.id == bindparam("run_id"))
    .values(current_node_id=bindparam("node_id"))
)


def step_row(step: StepRecord) -> dict[str, Any]:
    started = datetime.fromisoformat(step.started_at)
    ended = datetime.fromisoformat(step.ended_at)
    return {
        "flow_run_id": uuid.UUID(step.run_id),
        "sequence": step.sequence,
        "node_id": step.node_id,
        "node_type": step.node_type,
        "outcome": step.outcome,
        "started_at": started,
        "ended_at": ended,
        "error": step.error,
        "output": step.output,
        "duration_ms": int((ended - started).total_seconds() * 1000),
    }


async def store_steps(session: AsyncSession, steps: list[StepRecord]) -> None:
    """Store a run's steps (in order, not empty) in the session's transaction: their rows, the
    run's current node and `error.occurred` events (the analytics facts come from a trigger on
    the rows); a retry adds nothing."""
    await session.execute(NEW_STEPS, [step_row(step) for step in steps])
    last = steps[-1]
    await session.execute(CURRENT_NODE, {"run_id": uuid.UUID(last.run_id), "node_id": last.node_id})
    await webhook_outbox.node_errors(session, steps)
