"""Counting what one inbound message costs: Temporal workflow tasks and events, local and
regular activities, search-attribute upserts, and SQL statements, transactions and connection
checkouts, split between the API (ingress) and the worker."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from tests.helpers import wait_for


@dataclass
class SqlCount:
    statements: int = 0
    transactions: int = 0
    pings: int = 0  # pre-ping round trips, counted for the worker only


@dataclass
class SqlCounter:
    """SQL work per engine while active: the worker's engine apart from every other (the API's)."""

    worker_engine: Engine
    workflows: str  # the id (prefix) of the measured workflows
    worker: SqlCount = field(default_factory=SqlCount)
    others: SqlCount = field(default_factory=SqlCount)
    api: SqlCount = field(default_factory=SqlCount)

    def _side(self, engine: Engine) -> SqlCount:
        if engine is not self.worker_engine:
            return self.api
        return self.worker if self._ours() else self.others

    def _ours(self) -> bool:
        """Whether the worker's statement comes from an activity of the measured workflows
        (not from what an earlier test left behind)."""
        return activity.in_activity() and activity.info().workflow_id.startswith(self.workflows)

    def _statement(self, conn: Any, *_args: Any) -> None:
        self._side(conn.engine).statements += 1

    def _begin(self, conn: Any) -> None:
        self._side(conn.engine).transactions += 1

    def _checkout(self, *_args: Any) -> None:
        if self.worker_engine.pool._pre_ping and self._ours():  # a round trip per checkout
            self.worker.pings += 1

    @contextmanager
    def counting(self) -> Iterator[SqlCounter]:
        listeners = [
            (Engine, "before_cursor_execute", self._statement),
            (Engine, "begin", self._begin),
            (self.worker_engine.pool, "checkout", self._checkout),
        ]
        for target, name, listener in listeners:
            event.listen(target, name, listener)
        try:
            yield self
        finally:
            for target, name, listener in listeners:
                event.remove(target, name, listener)


WORKFLOW_TASK_ENDS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
}
LOCAL_ACTIVITY = "core_local_activity"  # the marker of a local activity (patches have others)
KINDS = {
    "activities": {EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED},
    "search-attribute upserts": {EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES},
    "signals received": {EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED},
    "signals sent": {EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED},
    "child workflows": {EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED},
}


async def runs_since(client: Client, workflow_id: str, since: float) -> list[str]:
    """The workflow runs of `workflow_id` that may hold events after `since`, newest first
    (a `BotConversation` continues as new when a flow starts in a run that hosted one)."""
    runs: list[str] = []
    run_id: str | None = None
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        first = history.events[0]
        runs.append(history.run_id)
        previous = first.workflow_execution_started_event_attributes.continued_execution_run_id
        if not previous or first.event_time.ToNanoseconds() / 1e9 < since:
            return runs
        run_id = previous


async def workflow_ids(client: Client, conversation_id: str) -> list[str]:
    """The conversation's workflow and, on the `Conversation` shape, its flow runs'
    (`<id>-run-<n>`) that exist."""
    ids = [conversation_id]
    for number in range(1, 100):
        run = f"{conversation_id}-run-{number}"
        try:
            await client.get_workflow_handle(run).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return ids
            raise
        ids.append(run)
    return ids


PAIRS = (  # commands whose outcome comes back as a later event of the same history
    (
        EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
        {
            EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
            EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
        },
    ),
    (
        EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
        {
            EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED,
            EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED,
        },
    ),
)


async def settled(client: Client, ids: list[str]) -> bool:
    """Whether none of these workflows has work to do or on the way: no workflow task pending,
    and every signal or child start it sent has come back."""
    for workflow_id in ids:
        handle = client.get_workflow_handle(workflow_id)
        if (await handle.describe()).raw_description.HasField("pending_workflow_task"):
            return False
        types = Counter(e.event_type for e in (await handle.fetch_history()).events)
        if any(types[sent] != sum(types[t] for t in back) for sent, back in PAIRS):
            return False
    return True


async def temporal_cost(client: Client, conversation_id: str, since: float) -> dict[str, int]:
    """Per kind, what the conversation's workflows (all their runs) recorded after `since`
    (epoch seconds)."""
    ids = await workflow_ids(client, conversation_id)
    await wait_for(lambda: settled(client, ids), what="the workflows to settle")
    counts: Counter[str] = Counter()
    executions = [(i, run) for i in ids for run in await runs_since(client, i, since)]
    for workflow_id, run_id in executions:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        for history_event in history.events:
            if history_event.event_time.ToNanoseconds() / 1e9 < since:
                continue
            counts["history events"] += 1
            if history_event.event_type in WORKFLOW_TASK_ENDS:
                counts["workflow tasks"] += 1
            for kind, types in KINDS.items():
                counts[kind] += history_event.event_type in types
            if history_event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
                marker = history_event.marker_recorded_event_attributes.marker_name
                counts["local activities" if marker == LOCAL_ACTIVITY else "other markers"] += 1
    return dict(counts)


def now() -> float:
    return time.time()
