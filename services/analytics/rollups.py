"""Keeping the analytics rollups current: one call per recording site, in its transaction.

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
from typing import Any

from sqlalchemy import Table, func, select, text, update
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
    KeywordHour,
    NodeHour,
)
from models.conversation_tables import Conversation, FlowRun, FlowRunStep, Message
from models.flow_tables import FlowVersion
from models.settings import get_settings

# Conversation status → the counter a change to it adds one to.
STATUS_COUNTERS = {
    "handed_off": "conversations_handed_off",
    "abandoned": "conversations_abandoned",
    "closed": "conversations_completed",
}
RUN_COUNTERS = {
    "completed": "runs_completed",
    "abandoned": "runs_abandoned",
    "failed": "runs_failed",
}
NODE_COUNTERS = ("reached", "visits", "invalid", "timeouts", "errors")
NOT_ENDED = {"ended_completed": 0, "ended_dropped": 0}
EDGE_KEY = ("flow_id", "source", "handle", "target", "hour")
NOT_ANSWERED = ("invalid", "timeout", "error")
MAX_KEYWORD = 60
MAX_ANSWER = 200
NOW_HOUR = text("date_trunc('hour', now(), 'UTC')")


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


async def count_conversation_opened(
    session: AsyncSession, bot_id: uuid.UUID, contact_id: uuid.UUID, workflow_id: str
) -> None:
    """Before a conversation is opened: a new contact, and a conversation started unless it is
    already active (a retried open)."""
    if not enabled():
        return
    new_contact = await session.scalar(
        text("SELECT created_at = now() FROM contacts WHERE id = :id"), {"id": contact_id}
    )
    status = await session.scalar(
        select(Conversation.status).where(Conversation.workflow_id == workflow_id).with_for_update()
    )
    counters = {"new_contacts": int(bool(new_contact))}
    counters["conversations_started"] = int(status in (None, "abandoned", "closed"))
    if any(counters.values()):
        await add_to_bot(session, bot_id, NOW_HOUR, **counters)


async def count_status_change(
    session: AsyncSession, conversation_id: str | uuid.UUID, status: str | None
) -> None:
    """Before a conversation's status is set: count the change (a repeat counts nothing)."""
    if status is None or not enabled():
        return
    row = (
        await session.execute(
            select(Conversation.bot_id, Conversation.status)
            .where(Conversation.id == uuid.UUID(str(conversation_id)))
            .with_for_update()
        )
    ).first()
    if row is None or row.status == status:
        return
    if status in STATUS_COUNTERS:
        await add_to_bot(session, row.bot_id, NOW_HOUR, **{STATUS_COUNTERS[status]: 1})
    elif status == "active" and row.status in ("abandoned", "closed"):
        await add_to_bot(session, row.bot_id, NOW_HOUR, conversations_started=1)


async def count_run_started(session: AsyncSession, run_id: uuid.UUID | None) -> None:
    """A flow run's row was written: count it once, with the text that triggered it."""
    if not enabled():
        return
    row = (
        await session.execute(
            text("""
                SELECT r.flow_id, f.bot_id, r.started_at, r.variables ->> 'last_reply' AS said
                FROM flow_runs r JOIN flows f ON f.id = r.flow_id
                WHERE r.id = :id AND r.started_at = now()
            """),
            {"id": run_id},
        )
    ).first()
    if row is None:
        return
    hour = hour_of(row.started_at)
    keyword = keyword_of(row.said or "")
    if keyword:
        await add(
            session,
            KeywordHour,
            ("bot_id", "hour", "keyword"),
            [{"bot_id": row.bot_id, "hour": hour, "keyword": keyword, "n": 1}],
        )
    await add(
        session,
        FlowHour,
        ("flow_id", "hour"),
        [{"flow_id": row.flow_id, "hour": hour, "bot_id": row.bot_id, "runs_started": 1}],
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


async def count_run_finished(
    session: AsyncSession, run: FlowRun, status: str, variables: dict[str, Any]
) -> None:
    """Before a run's end is stored (once: a retry finds `ended_at` set): how it ended, the
    node it ended at (for a run that gave up while waiting, the node it waited at, which
    counts as reached), and the answers it collected."""
    if run.ended_at is not None or not enabled():
        return
    now, bot_id = (
        await session.execute(
            select(text("now()"), Conversation.bot_id).where(Conversation.id == run.conversation_id)
        )
    ).one()
    hour = hour_of(now)
    counters = {RUN_COUNTERS.get(status, "runs_other"): 1}
    if status == "completed":
        counters["completed_duration_ms_sum"] = int((now - run.started_at).total_seconds() * 1000)
    await add(
        session,
        FlowHour,
        ("flow_id", "hour"),
        [{"flow_id": run.flow_id, "hour": hour, "bot_id": bot_id, **counters}],
    )
    steps = (
        await session.execute(
            select(FlowRunStep.node_id, FlowRunStep.outcome)
            .where(FlowRunStep.flow_run_id == run.id)
            .order_by(FlowRunStep.sequence)
        )
    ).all()
    ending: dict[str, int] = {"ended_completed" if status == "completed" else "ended_dropped": 1}
    stopped_at = steps[-1].node_id if steps else None
    if status != "completed":
        waited_at = await waiting_node(session, run, steps[-1] if steps else None, variables)
        if waited_at is not None:
            stopped_at = waited_at
            if waited_at not in {step.node_id for step in steps}:
                ending["reached"] = 1
            if steps:
                edge = {
                    "flow_id": run.flow_id,
                    "source": steps[-1].node_id,
                    "handle": steps[-1].outcome or "",
                    "target": waited_at,
                    "hour": hour,
                    "visits": 1,
                }
                await add(session, EdgeHour, EDGE_KEY, [edge])
    if stopped_at is not None:
        row = {"flow_id": run.flow_id, "node_id": stopped_at, "hour": hour, **ending}
        await add(session, NodeHour, ("flow_id", "node_id", "hour"), [row])
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
    await add(session, AnswerHour, ("flow_id", "node_id", "hour", "answer"), answers)


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
