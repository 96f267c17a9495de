"""What the analytics rollups cost the engine, in SQL statements, and that the step rollups stay
exact (and cheap) however long a run grows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import ActivityEnvironment

from activities.conversation_store import ConversationStore
from models.conversation_tables import Message
from models.db import make_session_factory
from models.messages import InboundMessage
from models.payloads.engine import ContactRef, ConversationInput, StepRecord
from services.analytics import rollups
from tests.helpers import chain, make_web_bot, node
from tests.test_analytics import rollups_agree_with_raw_rows

# A question that loops on wrong answers, then a check that may fail and retry.
LOOP = ("ask", "check")
FLUSHES = 60


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements `engine` executes inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


class Run:
    """A conversation with one flow run, driven through the store's activities."""

    def __init__(self, store: ConversationStore, bot: str, channel: str) -> None:
        self.store, self.bot, self.channel = store, bot, channel
        self.env = ActivityEnvironment()
        self.sequence = 0
        self.conversation = self.run_id = ""

    async def start(self, engine: AsyncEngine, contact: str) -> None:
        opened = ConversationInput(
            bot_id=self.bot,
            channel_id=self.channel,
            channel_kind="web",
            contact=ContactRef(external_id=contact),
        )
        record = await self.env.run(self.store.open_conversation, opened)
        self.conversation = record.conversation_id
        async with engine.connect() as connection:
            flow, version = (
                await connection.execute(
                    text("SELECT id, published_version_id FROM flows WHERE bot_id = :bot"),
                    {"bot": self.bot},
                )
            ).one()
        self.run_id = await self.env.run(
            self.store.begin_flow_run,
            self.conversation,
            str(flow),
            str(version),
            f"run-{uuid.uuid4()}",
            {"last_reply": "hello"},
        )

    def steps(self, *outcomes: tuple[str, str], at: datetime | None = None) -> list[StepRecord]:
        """The next steps of the run: (node, outcome) pairs."""
        moment = (at or datetime.now(UTC)).isoformat()
        made = []
        for node_id, outcome in outcomes:
            self.sequence += 1
            made.append(
                StepRecord(
                    run_id=self.run_id,
                    sequence=self.sequence,
                    node_id=node_id,
                    node_type="question",
                    outcome=outcome,
                    started_at=moment,
                    ended_at=moment,
                    error={"message": "boom"} if outcome == "error" else None,
                )
            )
        return made

    async def flush(self, steps: list[StepRecord]) -> None:
        await self.env.run(self.store.record_flow_steps, steps)

    async def finish(self, status: str) -> None:
        await self.env.run(self.store.finish_flow_run, self.run_id, status, {}, None)

    async def inbound(self, text_: str) -> None:
        message = InboundMessage(provider_message_id=f"m-{uuid.uuid4()}", text=text_)
        await self.env.run(
            self.store.record_inbound_message, self.conversation, self.channel, message
        )


async def make_run(engine: AsyncEngine, contact: str) -> Run:
    bot, channel = await make_web_bot(engine, chain(*(node(n, "message", content=n) for n in LOOP)))
    run = Run(ConversationStore(make_session_factory(engine)), bot, channel)
    await run.start(engine, contact)
    return run


FUNNEL_FROM_RAW = """
    SELECT node_id, count(DISTINCT flow_run_id), count(*),
           count(*) FILTER (WHERE outcome = 'invalid'), count(*) FILTER (WHERE outcome = 'error')
    FROM flow_run_steps s JOIN flow_runs r ON r.id = s.flow_run_id
    WHERE r.flow_id = :flow GROUP BY 1"""
FUNNEL_FROM_ROLLUPS = """
    SELECT node_id, sum(reached), sum(visits), sum(invalid), sum(errors)
    FROM analytics_node_hours WHERE flow_id = :flow GROUP BY 1 HAVING sum(visits) > 0"""
EDGES_FROM_RAW = """
    SELECT source, handle, node_id, count(*) FROM (
        SELECT node_id, lag(node_id) OVER w AS source, lag(coalesce(outcome, '')) OVER w AS handle
        FROM flow_run_steps s JOIN flow_runs r ON r.id = s.flow_run_id WHERE r.flow_id = :flow
        WINDOW w AS (PARTITION BY flow_run_id ORDER BY sequence)) steps
    WHERE source IS NOT NULL GROUP BY 1, 2, 3"""
EDGES_FROM_ROLLUPS = """
    SELECT source, handle, target, sum(visits) FROM analytics_edge_hours
    WHERE flow_id = :flow GROUP BY 1, 2, 3"""


async def rows_of(engine: AsyncEngine, query: str, flow: Any) -> list[tuple[Any, ...]]:
    async with engine.connect() as connection:
        return sorted(map(tuple, (await connection.execute(text(query), {"flow": flow})).all()))


async def test_a_long_run_keeps_funnel_and_edges_exact(
    db_engine: AsyncEngine, clean_db: None
) -> None:
    first, second = await make_run(db_engine, "long"), await make_run(db_engine, "short")
    await first.inbound("hello")
    # Two runs of different bots' flows; the long one loops FLUSHES times, across two hours.
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    for flush in range(FLUSHES):
        outcomes = [("ask", "invalid"), ("check", "error" if flush % 7 == 0 else "default")]
        if flush == FLUSHES - 1:
            outcomes.append(("done", "default"))  # a node seen only at the very end
        steps = first.steps(*outcomes, at=hour_ago if flush < FLUSHES // 2 else None)
        await first.flush(steps)
        if flush % 10 == 0:
            await first.flush(steps)  # a retried write counts nothing twice
    await second.flush(second.steps(("ask", "default")))
    await second.flush(second.steps(("check", "default"), ("ask", "default")))
    await first.finish("completed")
    await second.finish("abandoned")
    async with db_engine.connect() as connection:
        flow = await connection.scalar(
            text("SELECT flow_id FROM flow_runs WHERE id = :id"), {"id": first.run_id}
        )
    funnel = await rows_of(db_engine, FUNNEL_FROM_ROLLUPS, flow)
    assert funnel == await rows_of(db_engine, FUNNEL_FROM_RAW, flow)
    assert funnel == [
        ("ask", 1, FLUSHES, FLUSHES, 0),
        ("check", 1, FLUSHES, 0, len(range(0, FLUSHES, 7))),
        ("done", 1, 1, 0, 0),
    ]
    edges = await rows_of(db_engine, EDGES_FROM_ROLLUPS, flow)
    assert edges == await rows_of(db_engine, EDGES_FROM_RAW, flow)
    assert sum(visits for *_, visits in edges) == 2 * FLUSHES  # every step after the first
    await rollups_agree_with_raw_rows(db_engine)


async def statements_of(engine: AsyncEngine, work: Any) -> int:
    with counting(engine) as seen:
        await work()
    return len(seen)


@pytest.mark.parametrize("with_error", [False, True])
async def test_what_the_rollups_add_per_message_and_flush(
    db_engine: AsyncEngine, clean_db: None, monkeypatch: pytest.MonkeyPatch, with_error: bool
) -> None:
    """Each recording site is run with rollups on and off: the difference is what they cost."""
    run = await make_run(db_engine, "counted")
    await run.flush(run.steps(("ask", "default")))  # the first flush has no edge
    await run.inbound("hello")  # the store caches the channel's kind at its first message

    async def costs() -> tuple[int, int]:
        inbound = await statements_of(db_engine, lambda: run.inbound("hi"))
        outcome = "error" if with_error else "default"
        flush = await statements_of(
            db_engine, lambda: run.flush(run.steps(("check", outcome), ("ask", "default")))
        )
        return inbound, flush

    on = await costs()
    monkeypatch.setattr(rollups, "enabled", lambda: False)
    off = await costs()
    added = (on[0] - off[0], on[1] - off[1])
    # Inbound: none (folded into the conversation's update). A flush: the run's context and one
    # upsert of node and edge rows (plus the bot's error counter when a step failed).
    assert added == (0, 3 if with_error else 2)


async def test_an_outbound_message_adds_one_statement(
    db_engine: AsyncEngine, clean_db: None
) -> None:
    run = await make_run(db_engine, "answered")
    await run.inbound("hi")
    async with make_session_factory(db_engine).begin() as session:
        message = Message(
            conversation_id=uuid.UUID(run.conversation),
            channel_id=uuid.UUID(run.channel),
            direction="outbound",
            type="text",
            content={"text": "hello"},
            text="hello",
            status="sent",
        )
        session.add(message)
        await session.flush()
        with counting(db_engine) as seen:
            await rollups.count_outbound(session, message)
        assert len(seen) == 1
    async with db_engine.connect() as connection:
        counted = await connection.execute(
            text("""SELECT sum(messages_out), sum(responses) FROM analytics_bot_hours
                    WHERE bot_id = :bot"""),
            {"bot": run.bot},
        )
        assert tuple(counted.one()) == (1, 1)


async def test_a_run_adds_one_statement_to_open_and_start_and_two_to_end(
    db_engine: AsyncEngine, clean_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening a conversation, starting a run and ending it, with rollups on and off."""

    async def costs(contact: str) -> tuple[int, int]:
        run = await make_run(db_engine, contact)
        with counting(db_engine) as seen:
            await run.start(db_engine, contact)  # reopens the conversation, a second run
        started = len(seen)
        await run.flush(run.steps(("ask", "default")))
        return started, await statements_of(db_engine, lambda: run.finish("completed"))

    on = await costs("on")
    monkeypatch.setattr(rollups, "enabled", lambda: False)
    off = await costs("off")
    # Open + start: one upsert each; the end: one read (time, bot, steps) and one upsert.
    assert (on[0] - off[0], on[1] - off[1]) == (2, 2)
