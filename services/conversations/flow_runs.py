"""Storing a flow run's start and end, in the transaction of whatever the run writes with them.

A run's start goes with its first write (a send, its steps before it waits, or its end), its
end with the steps it had not stored yet: a run that sends once and ends costs two
transactions, not four. Both statements are idempotent, so a retried write repeats nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import json_or_null
from models.payloads.engine import RunEnd, RunStart
from services.conversations.flow_steps import store_steps
from services.webhooks import outbox as webhook_outbox

# Written out: SQLAlchemy would also SET every column of an UPDATE's table named like one of
# the parameters (`conversation_id`, `workflow_id`, `status` ...), even inside a CTE. A start
# written again late (a retried write whose first attempt had committed) leaves an ended run
# ended and does not make it the conversation's current run again. Each statement also writes
# the run's webhook event (`flow.started`, `flow.completed`, `flow.failed`) when an endpoint
# subscribes: a start only when it stored the row (a retry's first attempt wrote the event).
STARTED_EVENT = webhook_outbox.emitting_sql(
    webhook_outbox.FLOW_RUN_SCOPE.format(runs="stored", which="r.inserted")
)
ENDED_EVENT = webhook_outbox.emitting_sql(  # with `flow_event_params`'s `emits`
    webhook_outbox.FLOW_RUN_SCOPE.format(runs="ended", which="CAST(:emits AS boolean)")
)
NEW_RUN = text(  # the run's row (idempotent on its workflow id) and the conversation's current run
    f"""
    WITH stored AS (
      INSERT INTO flow_runs (id, conversation_id, flow_id, flow_version_id, workflow_id, status,
                             variables)
      VALUES (:run_id, :conversation_id, :flow_id, :flow_version_id, :workflow_id, 'running',
              :variables)
      ON CONFLICT (workflow_id) DO UPDATE SET workflow_id = EXCLUDED.workflow_id  -- as it was
      RETURNING id, conversation_id, flow_id, flow_version_id, status, xmax = 0 AS inserted
    ), current_run AS (
      UPDATE conversations SET current_flow_run_id = (SELECT id FROM stored)
      WHERE id = :conversation_id AND (SELECT status FROM stored) = 'running'
    ), {STARTED_EVENT}
    SELECT id, inserted, {webhook_outbox.ENDPOINTS_ARRAY} AS new_endpoints FROM stored
    """
).bindparams(bindparam("variables", type_=JSONB), webhook_outbox.EVENT_DATA)
RUN_ENDED = text(  # the run's end, and no current run for the conversation it was current in
    f"""
    WITH ended AS (
      UPDATE flow_runs SET status = :status, variables = :variables, ended_at = :ended_at,
                           error = :error
      WHERE id = :run_id
      RETURNING id, conversation_id, flow_id, flow_version_id, status
    ), no_current_run AS (
      UPDATE conversations SET current_flow_run_id = NULL
      WHERE current_flow_run_id IN (SELECT id FROM ended)
    ), {ENDED_EVENT}
    SELECT id, {webhook_outbox.ENDPOINTS_ARRAY} AS new_endpoints FROM ended
    """
).bindparams(
    bindparam("variables", type_=JSONB),
    bindparam("ended_at", type_=DateTime(timezone=True)),
    json_or_null("error"),
    webhook_outbox.EVENT_DATA,
)


async def store_run_start(session: AsyncSession, start: RunStart) -> tuple[uuid.UUID, bool]:
    """The run's row, the conversation's current run and `flow.started`; the run's id (the
    stored one, for a workflow id stored before) and whether this call stored it."""
    run_id, inserted, endpoints = (
        await session.execute(
            NEW_RUN,
            {
                "run_id": uuid.UUID(start.run_id),
                "conversation_id": uuid.UUID(start.conversation_id),
                "flow_id": uuid.UUID(start.flow_id),
                "flow_version_id": uuid.UUID(start.version_id),
                "workflow_id": start.workflow_id,
                "variables": start.variables,
                **webhook_outbox.flow_event_params(start.run_id, "running"),
            },
        )
    ).one()
    webhook_outbox.wake_after_commit(session, endpoints)
    return run_id, inserted


async def store_run_end(session: AsyncSession, end: RunEnd) -> tuple[bool, bool]:
    """The run's start and steps not stored yet, then its end; whether this call stored the
    start, and whether the run's row was there to end (it is gone once its bot is deleted)."""
    started = end.start is not None and (await store_run_start(session, end.start))[1]
    if end.steps:
        await store_steps(session, end.steps)
    ended = (
        await session.execute(
            RUN_ENDED,
            {
                "run_id": uuid.UUID(end.run_id),
                "status": end.status,
                "variables": end.variables,
                "ended_at": datetime.now(UTC),
                "error": {"message": end.error} if end.error else None,
                **webhook_outbox.flow_event_params(end.run_id, end.status, end.error),
            },
        )
    ).first()
    if ended is None:
        return started, False
    webhook_outbox.wake_after_commit(session, ended.new_endpoints)
    return started, True
