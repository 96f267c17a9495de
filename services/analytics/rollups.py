"""Keeping the analytics rollups current: one call per recording site, in its transaction, last
in it (a hot rollup row stays locked only from its upsert to the commit).

Each function is safe on a retried activity (it counts only what its transaction newly wrote)
and on concurrent writers (`INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`, rows in
key order so two transactions never wait on each other in a cycle). Tables are always taken
in one order (bot, contact, keyword, flow, node, edge, answer), and a site locks its
conversation row before the rollups, never after.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, NamedTuple

from sqlalchemy import Table, func, text, update
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession

from flowlang import expressions
from flowlang.graph import FlowDefinition, FlowGraph
from models.analytics_tables import (
    RESPONSE_BUCKET_COLUMNS,
    RESPONSE_BUCKETS_MS,
    SHARDS,
    AnswerHour,
    BotHour,
    EdgeHour,
    FlowHour,
    NodeHour,
)
from models.conversation_tables import Conversation, FlowRun, Message
from models.flow_tables import FlowVersion
from models.settings import get_settings

RUN_COUNTERS = {
    "completed": "runs_completed",
    "abandoned": "runs_abandoned",
    "failed": "runs_failed",
}
NODE_COUNTERS = ("reached", "visits", "invalid", "timeouts", "errors")
FLOW_COUNTERS = ("runs_started", *RUN_COUNTERS.values(), "runs_other", "completed_duration_ms_sum")
NOT_ENDED = {"ended_completed": 0, "ended_dropped": 0}
EDGE_KEY = ("flow_id", "source", "handle", "target", "hour")
NOT_ANSWERED = ("invalid", "timeout", "error")
MAX_KEYWORD = 60
MAX_ANSWER = 200


def hour_of(moment: datetime) -> datetime:
    """The start of the UTC hour holding `moment`."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def keyword_of(trigger_text: str) -> str:
    """A trigger text as counted among top keywords: lowercased, spaces collapsed, shortened."""
    return " ".join(trigger_text.casefold().split())[:MAX_KEYWORD]


def enabled() -> bool:
    """Whether rollups are kept (`BOTBUILDER_ANALYTICS_ROLLUPS`: off only to measure their cost)."""
    return get_settings().analytics_rollups


def upsert(table: Table | Any, keys: Sequence[str], rows: Iterable[dict[str, Any]]) -> Insert:
    """The statement adding each row's counters to the stored ones (creating missing rows), rows
    in key order; `rows` must not be empty."""
    target: Table = getattr(table, "__table__", table)
    if "shard" in target.c:
        keys = (*keys, "shard")
        rows = [{**row, "shard": random.randrange(SHARDS)} for row in rows]
    ordered = sorted(rows, key=lambda row: tuple(str(row[key]) for key in keys))
    statement = insert(target).values(ordered)
    counters = [name for name in ordered[0] if name not in (*keys, "bot_id")]
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: target.c[name] + statement.excluded[name] for name in counters},
    )


async def add(
    session: AsyncSession, table: Table | Any, keys: Sequence[str], rows: Iterable[dict[str, Any]]
) -> None:
    """Add each row's counters to the stored ones (creating missing rows), in key order."""
    rows = list(rows)
    if rows and enabled():
        await session.execute(upsert(table, keys, rows))


async def add_to_bot(session: AsyncSession, bot_id: Any, hour: Any, **counters: int) -> None:
    await add(session, BotHour, ("bot_id", "hour"), [{"bot_id": bot_id, "hour": hour, **counters}])


# The conversation's last message time, and the message counted: messages in, and the contact
# as active this hour. The conversation row is locked (updated) before the rollups.
INBOUND = text("""
    WITH c AS (
        UPDATE conversations SET last_message_at = now() WHERE id = :id
        RETURNING bot_id, contact_id
    ), k AS (
        SELECT c.bot_id, c.contact_id, k.created_at AS since
        FROM c JOIN contacts k ON k.id = c.contact_id
    ), counted AS (
        INSERT INTO analytics_bot_hours (bot_id, hour, shard, messages_in)
        SELECT bot_id, date_trunc('hour', now(), 'UTC'), :shard, 1 FROM k
        ON CONFLICT (bot_id, hour, shard)
        DO UPDATE SET messages_in = analytics_bot_hours.messages_in + 1
    )
    INSERT INTO analytics_contact_hours (bot_id, hour, contact_id, contact_since)
    SELECT bot_id, date_trunc('hour', now(), 'UTC'), contact_id, since FROM k
    ON CONFLICT DO NOTHING
""")


async def inbound_stored(session: AsyncSession, conversation_id: str | uuid.UUID) -> None:
    """A new inbound message: the conversation's `last_message_at` and, with rollups, the message
    counted, in the same statement (the rollups add none of their own)."""
    conversation = uuid.UUID(str(conversation_id))
    if not enabled():
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation)
            .values(last_message_at=func.now())
        )
        return
    await session.execute(INBOUND, {"id": conversation, "shard": random.randrange(SHARDS)})


def _bucket_sums() -> str:
    """`response_bucket_i` = 1 when `ms` falls in bucket i, as SQL select items."""
    bounds = (-1, *RESPONSE_BUCKETS_MS)
    items = [f"(ms > {low} AND ms <= {high})::int" for low, high in pairwise(bounds)]
    items.append(f"(ms > {RESPONSE_BUCKETS_MS[-1]})::int")
    return ", ".join(f"coalesce({item}, 0)" for item in items)


COUNT_OUTBOUND = text(f"""
    WITH stored AS (
        SELECT m.created_at, c.bot_id,
               CASE WHEN m.sent_by_user_id IS NULL AND p.direction = 'inbound'
                    THEN (extract(epoch FROM m.created_at - p.created_at) * 1000)::bigint END AS ms
        FROM messages m JOIN conversations c ON c.id = m.conversation_id
        LEFT JOIN LATERAL (
            SELECT direction, created_at FROM messages
            WHERE conversation_id = m.conversation_id AND created_at < m.created_at
            ORDER BY created_at DESC LIMIT 1) p ON true
        WHERE m.id = :id AND m.created_at = now())
    INSERT INTO analytics_bot_hours AS b (bot_id, hour, shard, messages_out, responses,
                                          response_ms_sum, {", ".join(RESPONSE_BUCKET_COLUMNS)})
    SELECT bot_id, date_trunc('hour', created_at, 'UTC'), :shard, 1, (ms IS NOT NULL)::int,
           coalesce(ms, 0), {_bucket_sums()}
    FROM stored
    ON CONFLICT (bot_id, hour, shard) DO UPDATE SET
        messages_out = b.messages_out + 1, responses = b.responses + excluded.responses,
        response_ms_sum = b.response_ms_sum + excluded.response_ms_sum,
        {", ".join(f"{name} = b.{name} + excluded.{name}" for name in RESPONSE_BUCKET_COLUMNS)}
""")


async def count_outbound(session: AsyncSession, message: Message) -> None:
    """A newly stored outbound message (a retry's is stored already: nothing counted): messages
    out and, for the bot's first answer after a contact's message, the response time."""
    if not enabled():
        return
    await session.execute(COUNT_OUTBOUND, {"id": message.id, "shard": random.randrange(SHARDS)})


# Before a conversation is opened: a new contact, and a conversation started unless it is already
# active (a retried open); the conversation's row, when there is one, is locked first.
OPENED = text("""
    WITH c AS (SELECT status FROM conversations WHERE workflow_id = :workflow FOR UPDATE),
    counts AS (
        SELECT coalesce((SELECT (created_at = now())::int FROM contacts WHERE id = :contact), 0)
                   AS new_contacts,
               (coalesce((SELECT status FROM c), 'closed') IN ('abandoned', 'closed'))::int
                   AS started)
    INSERT INTO analytics_bot_hours AS b (bot_id, hour, shard, new_contacts, conversations_started)
    SELECT CAST(:bot AS uuid), date_trunc('hour', now(), 'UTC'), :shard, new_contacts, started
    FROM counts
    WHERE new_contacts + started > 0
    ON CONFLICT (bot_id, hour, shard) DO UPDATE SET
        new_contacts = b.new_contacts + excluded.new_contacts,
        conversations_started = b.conversations_started + excluded.conversations_started
""")


async def count_conversation_opened(
    session: AsyncSession, bot_id: uuid.UUID, contact_id: uuid.UUID, workflow_id: str
) -> None:
    """Before a conversation is opened: a new contact, and a conversation started unless it is
    already active (a retried open); one statement."""
    if enabled():
        await session.execute(
            OPENED,
            {
                "bot": bot_id,
                "contact": contact_id,
                "workflow": workflow_id,
                "shard": random.randrange(SHARDS),
            },
        )


# Before a conversation's status is set: the change counted (a repeat counts nothing), the
# conversation's row locked first.
STATUS_CHANGE = text("""
    WITH c AS (
        SELECT bot_id, status FROM conversations WHERE id = :id FOR UPDATE
    ), counts AS (
        SELECT bot_id,
               (CAST(:status AS text) = 'handed_off')::int AS handed_off,
               (CAST(:status AS text) = 'abandoned')::int AS abandoned,
               (CAST(:status AS text) = 'closed')::int AS completed,
               (CAST(:status AS text) = 'active' AND status IN ('abandoned', 'closed'))::int
                   AS started
        FROM c WHERE status IS DISTINCT FROM CAST(:status AS text))
    INSERT INTO analytics_bot_hours AS b (bot_id, hour, shard, conversations_handed_off,
        conversations_abandoned, conversations_completed, conversations_started)
    SELECT bot_id, date_trunc('hour', now(), 'UTC'), :shard, handed_off, abandoned, completed,
           started
    FROM counts WHERE handed_off + abandoned + completed + started > 0
    ON CONFLICT (bot_id, hour, shard) DO UPDATE SET
        conversations_handed_off = b.conversations_handed_off + excluded.conversations_handed_off,
        conversations_abandoned = b.conversations_abandoned + excluded.conversations_abandoned,
        conversations_completed = b.conversations_completed + excluded.conversations_completed,
        conversations_started = b.conversations_started + excluded.conversations_started
""")


async def count_status_change(
    session: AsyncSession, conversation_id: str | uuid.UUID, status: str | None
) -> None:
    """Before a conversation's status is set: count the change (a repeat counts nothing); one
    statement."""
    if status is None or not enabled():
        return
    conversation = uuid.UUID(str(conversation_id))
    shard = random.randrange(SHARDS)
    await session.execute(STATUS_CHANGE, {"id": conversation, "status": status, "shard": shard})


# A flow run's row newly written (a retry's row started earlier: nothing counted): the flow's
# runs started and, when a text triggered it, the keyword, in key order (keyword, then flow:
# a CTE nobody reads runs after the main statement).
RUN_STARTED = text("""
    WITH r AS (
        SELECT r.flow_id, f.bot_id, date_trunc('hour', r.started_at, 'UTC') AS hour
        FROM flow_runs r JOIN flows f ON f.id = r.flow_id
        WHERE r.id = :id AND r.started_at = now()
    ), flow AS (
        INSERT INTO analytics_flow_hours AS h (flow_id, hour, shard, bot_id, runs_started)
        SELECT flow_id, hour, :shard, bot_id, 1 FROM r
        ON CONFLICT (flow_id, hour, shard) DO UPDATE SET runs_started = h.runs_started + 1
    )
    INSERT INTO analytics_keyword_hours AS k (bot_id, hour, keyword, shard, n)
    SELECT bot_id, hour, CAST(:keyword AS text), :shard, 1 FROM r
    WHERE CAST(:keyword AS text) <> ''
    ON CONFLICT (bot_id, hour, keyword, shard) DO UPDATE SET n = k.n + 1
""")


async def count_run_started(
    session: AsyncSession, run_id: uuid.UUID | None, variables: dict[str, Any]
) -> None:
    """A flow run's row was written (with `variables`): count it once, with the text that
    triggered it; one statement."""
    if not enabled():
        return
    keyword = keyword_of(str(variables.get("last_reply") or ""))
    await session.execute(
        RUN_STARTED, {"id": run_id, "keyword": keyword, "shard": random.randrange(SHARDS)}
    )


# What a batch of new steps needs from the run's history, and nothing more: the run's flow and
# bot, the step just before the batch (for the edge into it), and which of the batch's nodes the
# run ran before (one index probe each), so a flush costs the same at the 10th step and the
# 10,000th.
STEPS_CONTEXT = text("""
    SELECT r.flow_id, c.bot_id, p.node_id AS previous_node, p.outcome AS previous_outcome,
           ARRAY(SELECT n FROM unnest(CAST(:nodes AS text[])) n
                 WHERE (SELECT min(s.sequence) FROM flow_run_steps s
                        WHERE s.flow_run_id = r.id AND s.node_id = n) < :first) AS reached
    FROM flow_runs r JOIN conversations c ON c.id = r.conversation_id
    LEFT JOIN flow_run_steps p ON p.flow_run_id = r.id AND p.sequence = :first - 1
    WHERE r.id = :run
""")


async def count_steps(
    session: AsyncSession, run_id: str | uuid.UUID, new_steps: Sequence[Any]
) -> None:
    """Steps this transaction stored for a run (`new_steps`, in order, with `sequence`, `node_id`,
    `outcome` and `started_at`: what the insert returned, so a retry counts nothing): node
    reach, visits, outcomes and edges, in one query and one upsert (two with a failed step)."""
    if not new_steps or not enabled():
        return
    nodes = sorted({step.node_id for step in new_steps})
    first = new_steps[0].sequence
    run = (
        await session.execute(
            STEPS_CONTEXT, {"run": uuid.UUID(str(run_id)), "nodes": nodes, "first": first}
        )
    ).one()
    reached = set(run.reached)
    previous = (run.previous_node, run.previous_outcome) if run.previous_node else None
    counted: dict[tuple[str, datetime], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    edges: dict[tuple[str, str, str, datetime], int] = defaultdict(int)
    errors: dict[datetime, int] = defaultdict(int)
    for step in new_steps:
        hour = hour_of(step.started_at)
        counts = counted[(step.node_id, hour)]
        counts["visits"] += 1
        if step.node_id not in reached:
            reached.add(step.node_id)
            counts["reached"] += 1
        if step.outcome == "invalid":
            counts["invalid"] += 1
        elif step.outcome == "timeout":
            counts["timeouts"] += 1
        elif step.outcome == "error":
            counts["errors"] += 1
            errors[hour] += 1
        if previous is not None:
            edges[(previous[0], previous[1] or "", step.node_id, hour)] += 1
        previous = (step.node_id, step.outcome)
    for hour, count in sorted(errors.items()):
        await add_to_bot(session, run.bot_id, hour, errors=count)
    node_rows = [
        {
            "flow_id": run.flow_id,
            "node_id": node_id,
            "hour": hour,
            **{name: counts.get(name, 0) for name in NODE_COUNTERS},
            **NOT_ENDED,  # explicit: column defaults are not applied beside a CTE
        }
        for (node_id, hour), counts in counted.items()
    ]
    edge_rows = [
        {
            "flow_id": run.flow_id,
            "source": source,
            "handle": handle,
            "target": target,
            "hour": hour,
            "visits": visits,
        }
        for (source, handle, target, hour), visits in edges.items()
    ]
    statement = upsert(NodeHour, ("flow_id", "node_id", "hour"), node_rows)
    if edge_rows:  # run after the node rows (a CTE nobody reads runs after the main statement)
        statement = statement.add_cte(upsert(EdgeHour, EDGE_KEY, edge_rows).cte("edges"))
    await session.execute(statement)


# What a run's end needs: the transaction's time, the bot, and the run's steps in order.
FINISHED_CONTEXT = text("""
    SELECT now() AS now, c.bot_id,
           ARRAY(SELECT s.node_id FROM flow_run_steps s
                 WHERE s.flow_run_id = :run ORDER BY s.sequence) AS nodes,
           ARRAY(SELECT coalesce(s.outcome, '') FROM flow_run_steps s
                 WHERE s.flow_run_id = :run ORDER BY s.sequence) AS outcomes
    FROM conversations c WHERE c.id = :conversation
""")


class Step(NamedTuple):
    node_id: str
    outcome: str


async def count_run_finished(
    session: AsyncSession, run: FlowRun, status: str, variables: dict[str, Any]
) -> None:
    """A run's end, counted once (the caller calls it only when the run had not ended): how it
    ended, the node it ended at (for a run that gave up while waiting, the node it waited at,
    which counts as reached), and the answers it collected; one read and one upsert."""
    if not enabled():
        return
    context = (
        await session.execute(
            FINISHED_CONTEXT, {"run": run.id, "conversation": run.conversation_id}
        )
    ).one()
    now, bot_id = context.now, context.bot_id
    steps = [Step(*step) for step in zip(context.nodes, context.outcomes, strict=True)]
    hour = hour_of(now)
    flow = dict.fromkeys(FLOW_COUNTERS, 0)
    flow[RUN_COUNTERS.get(status, "runs_other")] = 1
    if status == "completed":
        flow["completed_duration_ms_sum"] = int((now - run.started_at).total_seconds() * 1000)
    statement = upsert(
        FlowHour,
        ("flow_id", "hour"),
        [{"flow_id": run.flow_id, "hour": hour, "bot_id": bot_id, **flow}],
    )
    ending = dict.fromkeys((*NODE_COUNTERS, *NOT_ENDED), 0)
    ending["ended_completed" if status == "completed" else "ended_dropped"] = 1
    stopped_at = steps[-1].node_id if steps else None
    edges = []
    if status != "completed":
        waited_at = await waiting_node(session, run, steps[-1] if steps else None, variables)
        if waited_at is not None:
            stopped_at = waited_at
            if waited_at not in {step.node_id for step in steps}:
                ending["reached"] = 1
            if steps:
                edge = (steps[-1].node_id, steps[-1].outcome, waited_at)
                edges.append(dict(zip(EDGE_KEY, (run.flow_id, *edge, hour), strict=True)))
    if stopped_at is not None:
        row = {"flow_id": run.flow_id, "node_id": stopped_at, "hour": hour, **ending}
        node = upsert(NodeHour, ("flow_id", "node_id", "hour"), [row])
        statement = statement.add_cte(node.cte("node"))
    if edges:
        edge_rows = [{**edge, "visits": 1} for edge in edges]
        statement = statement.add_cte(upsert(EdgeHour, EDGE_KEY, edge_rows).cte("edge"))
    answered = dict.fromkeys(s.node_id for s in steps if s.outcome not in NOT_ANSWERED)
    answers = [
        {
            "flow_id": run.flow_id,
            "node_id": node_id,
            "hour": hour,
            "answer": answer_text(variables[node_id]),
            "bot_id": bot_id,
            "n": 1,
        }
        for node_id in answered
        if node_id in variables
    ]
    if answers:
        answer_key = ("flow_id", "node_id", "hour", "answer")
        statement = statement.add_cte(upsert(AnswerHour, answer_key, answers).cte("answers"))
    # The flow's row first, then the CTEs nobody reads (they run after the main statement).
    await session.execute(statement)


async def waiting_node(
    session: AsyncSession, run: FlowRun, last_step: Any, variables: dict[str, Any]
) -> str | None:
    """The node a run was at when it ended without finishing it (its steps are stored as they
    finish): the start node, or where the last step's edge leads."""
    version = await session.get(FlowVersion, run.flow_version_id)
    if version is None:
        return None
    try:
        graph = FlowGraph(FlowDefinition.model_validate(version.definition))
        if last_step is None:
            return graph.start_node_id()
        scope = {**variables, "variables": variables}
        return graph.next_node(
            last_step.node_id,
            last_step.outcome or "",
            lambda condition: expressions.evaluate(condition, scope),
        )
    except ValueError:  # a definition or condition that no longer parses
        return None


def answer_text(value: Any) -> str:
    """An answer as counted in the distribution (JSON for forms and lists), shortened."""
    shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return shown[:MAX_ANSWER]
