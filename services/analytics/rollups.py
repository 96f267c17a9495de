"""Folding the analytics outbox into the rollups: one batch of facts per transaction.

Triggers on the raw tables (migration 0017) write a fact for every counted event in the
transaction that records it: a new contact, a message, a conversation's status set, a flow run
started, a step, a run ended. A retried activity writes no second row (ON CONFLICT skips the
insert, or the update changes nothing), so it writes no second fact. `fold` claims the oldest
facts (`FOR UPDATE SKIP LOCKED`: several drainers take different ones), reads what they need
from the raw rows in a few batched queries, sums them per rollup row and upserts each rollup
table once, then deletes them, all in the caller's transaction: a failure leaves them to retry.
"""

from __future__ import annotations

import json
import random
import uuid
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Column, Row, Table, TextClause, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from flowlang import expressions
from flowlang.graph import FlowDefinition, FlowGraph
from models.analytics_tables import (
    RESPONSE_BUCKET_COLUMNS,
    RESPONSE_BUCKETS_MS,
    SHARDS,
    AnswerHour,
    BotHour,
    ContactHour,
    EdgeHour,
    FlowHour,
    KeywordHour,
    NodeHour,
)

FACTS_CHANNEL = "analytics_facts"
BATCH = 2_000
RUN_COUNTERS = {
    "completed": "runs_completed",
    "abandoned": "runs_abandoned",
    "failed": "runs_failed",
}
STATUS_COUNTERS = {
    "handed_off": "conversations_handed_off",
    "abandoned": "conversations_abandoned",
    "closed": "conversations_completed",
}
NOT_ANSWERED = ("invalid", "timeout", "error")
STEP_OUTCOMES = {"invalid": "invalid", "timeout": "timeouts", "error": "errors"}
MAX_KEYWORD = 60
MAX_ANSWER = 200


def hour_of(moment: datetime) -> datetime:
    """The start of the UTC hour holding `moment`."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def keyword_of(trigger_text: str) -> str:
    """A trigger text as counted among top keywords: lowercased, spaces collapsed, shortened."""
    return " ".join(trigger_text.casefold().split())[:MAX_KEYWORD]


def answer_text(value: Any) -> str:
    """An answer as counted in the distribution (JSON for forms and lists), shortened."""
    shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return shown[:MAX_ANSWER]


@cache
def upsert(table: Any, keys: tuple[str, ...], columns: tuple[str, ...]) -> TextClause:
    """The statement adding a batch's counters to the stored ones (creating missing rows), built
    once per table and column set. Its rows come as one JSON array (`upsert_rows`) and are
    written in key order, so concurrent drainers never wait on each other in a cycle."""
    target: Table = table.__table__
    if "shard" in target.c:
        keys, columns = (*keys, "shard"), (*columns, "shard")
    names = ", ".join(f'"{name}"' for name in columns)
    typed = ", ".join(f'"{name}" {sql_type(target.c[name])}' for name in columns)
    key_names = ", ".join(f'"{name}"' for name in keys)
    counters = [name for name in columns if name not in (*keys, "bot_id", "contact_since")]
    added = ", ".join(f'"{name}" = {target.name}."{name}" + excluded."{name}"' for name in counters)
    return text(
        f"INSERT INTO {target.name} ({names}) SELECT {names} "
        f"FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x({typed}) ORDER BY {key_names} "
        f"ON CONFLICT ({key_names}) DO " + (f"UPDATE SET {added}" if counters else "NOTHING")
    )


def sql_type(column: Column[Any]) -> str:
    """A column's PostgreSQL type; a foreign key's is its target's."""
    for key in column.foreign_keys:
        return sql_type(key.column)
    return str(column.type.compile(dialect=postgresql.dialect()))


def upsert_rows(table: Any, rows: list[dict[str, Any]]) -> str:
    """`upsert`'s parameter: the rows as JSON, each given a random shard when the table has
    them (concurrent writers of one hot row then update different ones)."""
    if "shard" in table.__table__.c:
        rows = [{**row, "shard": random.randrange(SHARDS)} for row in rows]
    return json.dumps(rows, default=str)


class Fact(NamedTuple):
    id: int
    kind: str
    at: datetime
    subject: uuid.UUID
    context: uuid.UUID | None
    number: int | None
    label: str | None
    detail: str | None


class Step(NamedTuple):
    node_id: str
    outcome: str


Counts = defaultdict[tuple[Any, ...], Counter[str]]


def counts() -> Counts:
    return defaultdict(Counter)


class Tally:
    """The batch's sums, per rollup row key."""

    def __init__(self) -> None:
        self.bot = counts()  # (bot, hour)
        self.contacts: dict[tuple[Any, ...], datetime] = {}  # (bot, hour, contact) -> since
        self.keywords = counts()  # (bot, hour, keyword)
        self.flows = counts()  # (flow, hour, bot)
        self.nodes = counts()  # (flow, node, hour)
        self.edges = counts()  # (flow, source, handle, target, hour)
        self.answers = counts()  # (flow, node, hour, answer, bot)

    async def write(self, session: AsyncSession) -> None:
        """One upsert per rollup table, tables always in one order."""
        tables: list[tuple[Any, tuple[str, ...], list[dict[str, Any]]]] = [
            (
                BotHour,
                ("bot_id", "hour"),
                rows(self.bot, ("bot_id", "hour"), counter_columns(BotHour)),
            ),
            (
                ContactHour,
                ("bot_id", "hour", "contact_id"),
                [
                    {"bot_id": bot, "hour": hour, "contact_id": contact, "contact_since": since}
                    for (bot, hour, contact), since in self.contacts.items()
                ],
            ),
            (
                KeywordHour,
                ("bot_id", "hour", "keyword"),
                rows(self.keywords, ("bot_id", "hour", "keyword"), ["n"]),
            ),
            (
                FlowHour,
                ("flow_id", "hour"),
                rows(self.flows, ("flow_id", "hour", "bot_id"), counter_columns(FlowHour)),
            ),
            (
                NodeHour,
                ("flow_id", "node_id", "hour"),
                rows(self.nodes, ("flow_id", "node_id", "hour"), counter_columns(NodeHour)),
            ),
            (
                EdgeHour,
                ("flow_id", "source", "handle", "target", "hour"),
                rows(self.edges, ("flow_id", "source", "handle", "target", "hour"), ["visits"]),
            ),
            (
                AnswerHour,
                ("flow_id", "node_id", "hour", "answer"),
                rows(self.answers, ("flow_id", "node_id", "hour", "answer", "bot_id"), ["n"]),
            ),
        ]
        for table, keys, table_rows in tables:
            if table_rows:
                statement = upsert(table, keys, tuple(table_rows[0]))
                await session.execute(statement, {"rows": upsert_rows(table, table_rows)})


def counter_columns(table: Any) -> list[str]:
    """A rollup table's counters: every column but its key, shard and bot."""
    keys = {c.name for c in table.__table__.primary_key.columns} | {"bot_id"}
    return [c.name for c in table.__table__.c if c.name not in keys and c.name != "shard"]


def rows(tally: Counts, keys: Sequence[str], columns: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of every column (zero where the batch counted nothing), for one upsert."""
    return [
        {**dict(zip(keys, key, strict=True)), **{name: counted[name] for name in columns}}
        for key, counted in tally.items()
    ]


CLAIM = text("""
    DELETE FROM analytics_facts WHERE id IN (
        SELECT id FROM analytics_facts ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED)
    RETURNING id, kind, at, subject, context, number, label, detail
""")


async def fold(session: AsyncSession, limit: int = BATCH) -> int:
    """Fold up to `limit` of the oldest unclaimed facts into the rollups, in the session's
    transaction; returns how many."""
    facts = [Fact(*row) for row in (await session.execute(CLAIM, {"limit": limit})).all()]
    by_kind: dict[str, list[Fact]] = defaultdict(list)
    for fact in sorted(facts, key=lambda fact: fact.id):
        by_kind[fact.kind].append(fact)
    tally = Tally()
    for fact in by_kind["contact"]:
        tally.bot[(fact.context, hour_of(fact.at))]["new_contacts"] += 1
    for fact in by_kind["status"]:
        count_status(tally, fact)
    await count_messages(session, tally, by_kind["message"])
    await count_runs_started(session, tally, by_kind["run"])
    await count_steps(session, tally, by_kind["step"])
    await count_runs_ended(session, tally, by_kind["end"])
    await tally.write(session)
    return len(facts)


def count_status(tally: Tally, fact: Fact) -> None:
    """A conversation opened (no status before) or its status changed: started when it became
    active from nothing, abandoned or closed; completed, abandoned or handed off by the new one."""
    counted = tally.bot[(fact.context, hour_of(fact.at))]
    if fact.detail == "active" and fact.label in (None, "abandoned", "closed"):
        counted["conversations_started"] += 1
    elif fact.detail in STATUS_COUNTERS:
        counted[STATUS_COUNTERS[fact.detail]] += 1


# Each message's bot and contact and, for a bot's answer (not an agent's), the response time:
# from the conversation's message just before it, when that one is the contact's.
MESSAGES = text("""
    SELECT m.id, c.bot_id, c.contact_id, k.created_at AS since,
           CASE WHEN m.direction = 'outbound' AND m.sent_by_user_id IS NULL
                     AND p.direction = 'inbound'
                THEN (extract(epoch FROM m.created_at - p.created_at) * 1000)::bigint END AS ms
    FROM messages m JOIN conversations c ON c.id = m.conversation_id
    JOIN contacts k ON k.id = c.contact_id
    LEFT JOIN LATERAL (
        SELECT direction, created_at FROM messages
        WHERE conversation_id = m.conversation_id AND created_at < m.created_at
        ORDER BY created_at DESC LIMIT 1) p ON m.direction = 'outbound'
    WHERE m.id = ANY(CAST(:ids AS uuid[]))
""")


async def count_messages(session: AsyncSession, tally: Tally, facts: list[Fact]) -> None:
    """Messages in and out, active contacts, and the bot's response times."""
    if not facts:
        return
    found = {
        row.id: row
        for row in await session.execute(MESSAGES, {"ids": [fact.subject for fact in facts]})
    }
    for fact in facts:
        message = found.get(fact.subject)
        if message is None:  # deleted since (with its conversation): nothing left to count
            continue
        hour = hour_of(fact.at)
        counted = tally.bot[(message.bot_id, hour)]
        if fact.label == "inbound":
            counted["messages_in"] += 1
            tally.contacts[(message.bot_id, hour, message.contact_id)] = message.since
            continue
        counted["messages_out"] += 1
        if message.ms is not None:
            counted["responses"] += 1
            counted["response_ms_sum"] += message.ms
            if message.ms >= 0:
                bucket = bisect_left(RESPONSE_BUCKETS_MS, message.ms)
                counted[RESPONSE_BUCKET_COLUMNS[bucket]] += 1


FLOW_BOTS = text("SELECT id, bot_id FROM flows WHERE id = ANY(CAST(:ids AS uuid[]))")


async def count_runs_started(session: AsyncSession, tally: Tally, facts: list[Fact]) -> None:
    """A flow's runs started and, when a text triggered one, the keyword."""
    if not facts:
        return
    flows = {fact.context for fact in facts}
    bots = {flow: bot for flow, bot in await session.execute(FLOW_BOTS, {"ids": list(flows)})}
    for fact in facts:
        bot, hour = bots.get(fact.context), hour_of(fact.at)
        if bot is None:
            continue
        tally.flows[(fact.context, hour, bot)]["runs_started"] += 1
        keyword = keyword_of(fact.label or "")
        if keyword:
            tally.keywords[(bot, hour, keyword)]["n"] += 1


# Each run's flow and bot; the first visit of each (run, node) pair; the step before each
# (run, sequence): index probes, so a step costs the same at a run's 10th step and 10,000th.
RUNS = text("""
    SELECT r.id, r.flow_id, c.bot_id FROM flow_runs r
    JOIN conversations c ON c.id = r.conversation_id WHERE r.id = ANY(CAST(:ids AS uuid[]))
""")
FIRST_VISITS = text("""
    SELECT x.run, x.node, (SELECT min(s.sequence) FROM flow_run_steps s
                           WHERE s.flow_run_id = x.run AND s.node_id = x.node)
    FROM unnest(CAST(:runs AS uuid[]), CAST(:nodes AS text[])) AS x(run, node)
""")
STEPS_BEFORE = text("""
    SELECT s.flow_run_id, s.sequence, s.node_id, coalesce(s.outcome, '')
    FROM unnest(CAST(:runs AS uuid[]), CAST(:sequences AS int[])) AS x(run, sequence)
    JOIN flow_run_steps s ON s.flow_run_id = x.run AND s.sequence = x.sequence
""")


async def count_steps(session: AsyncSession, tally: Tally, facts: list[Fact]) -> None:
    """Node reach (a run's first visit), visits, outcomes, edges, and the bot's errors."""
    if not facts:
        return
    runs = {
        row.id: row
        for row in await session.execute(RUNS, {"ids": list({f.subject for f in facts})})
    }
    pairs = sorted({(fact.subject, fact.label) for fact in facts})
    first_visits = {
        (run, node): first
        for run, node, first in await session.execute(
            FIRST_VISITS, {"runs": [p[0] for p in pairs], "nodes": [p[1] for p in pairs]}
        )
    }
    steps = {
        (fact.subject, fact.number): Step(fact.label or "", fact.detail or "") for fact in facts
    }
    missing = sorted(
        {(f.subject, f.number - 1) for f in facts if (f.subject, f.number - 1) not in steps}
    )
    found = await session.execute(
        STEPS_BEFORE, {"runs": [m[0] for m in missing], "sequences": [m[1] for m in missing]}
    )
    steps |= {(run, sequence): Step(node, outcome) for run, sequence, node, outcome in found}
    for fact in facts:
        run = runs.get(fact.subject)
        if run is None:
            continue
        hour, node = hour_of(fact.at), fact.label or ""
        counted = tally.nodes[(run.flow_id, node, hour)]
        counted["visits"] += 1
        if first_visits.get((fact.subject, node)) == fact.number:
            counted["reached"] += 1
        if fact.detail in STEP_OUTCOMES:
            counted[STEP_OUTCOMES[fact.detail]] += 1
        if fact.detail == "error":
            tally.bot[(run.bot_id, hour)]["errors"] += 1
        before = steps.get((fact.subject, fact.number - 1))
        if before is not None:
            tally.edges[(run.flow_id, before.node_id, before.outcome, node, hour)]["visits"] += 1


# What a run's end needs: its flow, version, start, answers and bot, and its steps in order.
ENDED = text("""
    SELECT r.id, r.flow_id, r.flow_version_id, r.started_at, r.variables, c.bot_id,
           ARRAY(SELECT s.node_id FROM flow_run_steps s
                 WHERE s.flow_run_id = r.id ORDER BY s.sequence) AS nodes,
           ARRAY(SELECT coalesce(s.outcome, '') FROM flow_run_steps s
                 WHERE s.flow_run_id = r.id ORDER BY s.sequence) AS outcomes
    FROM flow_runs r JOIN conversations c ON c.id = r.conversation_id
    WHERE r.id = ANY(CAST(:ids AS uuid[]))
""")
VERSIONS = text("SELECT id, definition FROM flow_versions WHERE id = ANY(CAST(:ids AS uuid[]))")


async def count_runs_ended(session: AsyncSession, tally: Tally, facts: list[Fact]) -> None:
    """How each run ended, the node it ended at (for a run that gave up while waiting, the node
    it waited at, which counts as reached, with the edge into it), and the answers it collected."""
    if not facts:
        return
    runs = {
        row.id: row
        for row in await session.execute(ENDED, {"ids": list({f.subject for f in facts})})
    }
    unfinished = {
        runs[f.subject].flow_version_id
        for f in facts
        if f.subject in runs and f.label != "completed"
    }
    graphs = await flow_graphs(session, unfinished)
    for fact in facts:
        run = runs.get(fact.subject)
        if run is not None:
            count_run_ended(tally, fact, run, graphs.get(run.flow_version_id))


def count_run_ended(tally: Tally, fact: Fact, run: Row[Any], graph: FlowGraph | None) -> None:
    status, hour, variables = fact.label or "", hour_of(fact.at), run.variables or {}
    steps = [Step(*step) for step in zip(run.nodes, run.outcomes, strict=True)]
    flow = tally.flows[(run.flow_id, hour, run.bot_id)]
    flow[RUN_COUNTERS.get(status, "runs_other")] += 1
    if status == "completed":
        flow["completed_duration_ms_sum"] += int((fact.at - run.started_at).total_seconds() * 1000)
    stopped_at = steps[-1].node_id if steps else None
    ending = Counter({"ended_completed" if status == "completed" else "ended_dropped": 1})
    if status != "completed" and graph is not None:
        waited_at = waiting_node(graph, steps[-1] if steps else None, variables)
        if waited_at is not None:
            stopped_at = waited_at
            if waited_at not in {step.node_id for step in steps}:
                ending["reached"] += 1
            if steps:
                edge = (run.flow_id, steps[-1].node_id, steps[-1].outcome, waited_at, hour)
                tally.edges[edge]["visits"] += 1
    if stopped_at is not None:
        tally.nodes[(run.flow_id, stopped_at, hour)].update(ending)
    answered = dict.fromkeys(s.node_id for s in steps if s.outcome not in NOT_ANSWERED)
    for node_id in answered:
        if node_id in variables:
            answer = answer_text(variables[node_id])
            tally.answers[(run.flow_id, node_id, hour, answer, run.bot_id)]["n"] += 1


async def flow_graphs(
    session: AsyncSession, versions: set[uuid.UUID]
) -> dict[uuid.UUID, FlowGraph]:
    """The graphs of these flow versions, leaving out any that no longer parses."""
    if not versions:
        return {}
    graphs = {}
    for version, definition in await session.execute(VERSIONS, {"ids": list(versions)}):
        try:
            graphs[version] = FlowGraph(FlowDefinition.model_validate(definition))
        except ValueError:
            continue
    return graphs


def waiting_node(graph: FlowGraph, last_step: Step | None, variables: dict[str, Any]) -> str | None:
    """The node a run was at when it ended without finishing it (its steps are stored as they
    finish): the start node, or where the last step's edge leads."""
    try:
        if last_step is None:
            return graph.start_node_id()
        scope = {**variables, "variables": variables}
        return graph.next_node(
            last_step.node_id,
            last_step.outcome,
            lambda condition: expressions.evaluate(condition, scope),
        )
    except ValueError:  # a condition that no longer parses
        return None
