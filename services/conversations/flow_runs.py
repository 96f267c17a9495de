"""Storing a flow run's start and end, in the transaction of whatever the run writes with them.

A run's start goes with its first write (a send, its steps before it waits, or its end), its
end with the steps it had not stored yet: a run that sends once and ends costs two
transactions, not four. Both statements are idempotent, so a retried write repeats nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import bindparam, literal_column, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.conversation_tables import Conversation, FlowRun
from models.db import bound, json_or_null
from models.payloads.engine import RunEnd, RunStart
from services.conversations.flow_steps import store_steps
from services.webhooks import outbox as webhook_outbox

RUNS, CONVERSATIONS = FlowRun.__table__, Conversation.__table__
NEW_RUN = (  # idempotent on the run's workflow id
    insert(RUNS)
    .values(
        id=bindparam("run_id"),
        **bound("conversation_id", "flow_id", "flow_version_id", "workflow_id", "variables"),
        status="running",
    )
    .on_conflict_do_update(index_elements=["workflow_id"], set_={"status": "running"})
    .returning(RUNS.c.id, literal_column("xmax = 0").label("inserted"))
)
RUN_ENDED = (
    update(RUNS)
    .where(RUNS.c.id == bindparam("run_id"))
    .values(
        status=bindparam("status"),
        variables=bindparam("variables"),
        ended_at=bindparam("ended_at"),
        error=json_or_null("error"),
    )
    .returning(RUNS.c.id)
)
CURRENT_RUN = (
    update(CONVERSATIONS)
    .where(CONVERSATIONS.c.id == bindparam("conversation_id"))
    .values(current_flow_run_id=bindparam("run_id"))
)
NO_CURRENT_RUN = (
    update(CONVERSATIONS)
    .where(CONVERSATIONS.c.current_flow_run_id == bindparam("run_id"))
    .values(current_flow_run_id=None)
)


async def store_run_start(session: AsyncSession, start: RunStart) -> tuple[uuid.UUID, bool]:
    """The run's row, the conversation's current run and `flow.started`; the run's id (the
    stored one, for a workflow id stored before) and whether this call stored it."""
    run_id, inserted = (
        await session.execute(
            NEW_RUN,
            {
                "run_id": uuid.UUID(start.run_id),
                "conversation_id": uuid.UUID(start.conversation_id),
                "flow_id": uuid.UUID(start.flow_id),
                "flow_version_id": uuid.UUID(start.version_id),
                "workflow_id": start.workflow_id,
                "variables": start.variables,
            },
        )
    ).one()
    await session.execute(
        CURRENT_RUN, {"conversation_id": uuid.UUID(start.conversation_id), "run_id": run_id}
    )
    await webhook_outbox.flow_event(session, run_id, "running")
    return run_id, inserted


async def store_run_end(session: AsyncSession, end: RunEnd) -> tuple[bool, bool]:
    """The run's start and steps not stored yet, then its end; whether this call stored the
    start, and whether the run's row was there to end (it is gone once its bot is deleted)."""
    started = end.start is not None and (await store_run_start(session, end.start))[1]
    if end.steps:
        await store_steps(session, end.steps)
    ended = await session.scalar(
        RUN_ENDED,
        {
            "run_id": uuid.UUID(end.run_id),
            "status": end.status,
            "variables": end.variables,
            "ended_at": datetime.now(UTC),
            "error": {"message": end.error} if end.error else None,
        },
    )
    if ended is not None:
        await session.execute(NO_CURRENT_RUN, {"run_id": ended})
        await webhook_outbox.flow_event(session, ended, end.status, end.error)
    return started, ended is not None
