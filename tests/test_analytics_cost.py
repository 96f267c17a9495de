"""What the analytics rollups cost the engine (facts written by triggers, no statement of its
own), that a retry writes no second fact, that the drainer folds them exactly (however long a
run grows, however many drainers run) and keeps going through failures and lost connections."""

from __future__ import annotations

import asyncio
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
from models.db import make_engine, make_session_factory, sqlalchemy_url
from models.messages import InboundMessage
from models.payloads.engine import ContactRef, ConversationInput, RunEnd, StepRecord
from services.analytics import drainer as drainer_module
from services.analytics import rollups
from services.analytics.drainer import FactDrainer, draining
from tests.helpers import chain, make_web_bot, node, rollups_drained, wait_for
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
        end = RunEnd(run_id=self.run_id, status=status, variables={})
        await self.env.run(self.store.finish_flow_run, end)

    async def inbound(self, text_: str) -> None:
        message = InboundMessage(provider_message_id=f"m-{uuid.uuid4()}", text=text_)
        await self.env.run(
            self.store.record_inbound_message, self.conversation, self.channel, message
        )


async def fold_all(engine: AsyncEngine, batch: int = rollups.BATCH) -> int:
    """Fold every committed fact, as the drainer does when woken."""
    return await FactDrainer("unused: no LISTEN", make_session_factory(engine), batch=batch).drain()


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
            await fold_all(db_engine)  # some steps' predecessors were folded in an earlier batch
    await second.flush(second.steps(("ask", "default")))
    await second.flush(second.steps(("check", "default"), ("ask", "default")))
    await first.finish("completed")
    await second.finish("abandoned")
    await fold_all(db_engine)
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


async def facts_by_kind(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        found = await connection.execute(
            text("SELECT kind, count(*) FROM analytics_facts GROUP BY 1")
        )
        return {kind: n for kind, n in found}


async def rolled_up(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return await connection.scalar(
            text("""SELECT (SELECT count(*) FROM analytics_bot_hours)
                         + (SELECT count(*) FROM analytics_node_hours)""")
        )


async def drive(engine: AsyncEngine, run: Run, contact: str) -> list[int]:
    """Every recording site once, then each again as a retry; the statements each took."""
    costs = [await statements_of(engine, lambda: run.start(engine, contact))]
    message = InboundMessage(provider_message_id=f"m-{uuid.uuid4()}", text="hi")
    record = run.env.run
    for _ in range(2):  # the second time: a retried activity
        costs.append(
            await statements_of(
                engine,
                lambda: record(
                    run.store.record_inbound_message, run.conversation, run.channel, message
                ),
            )
        )
    steps = run.steps(("ask", "default"), ("check", "error"))
    for _ in range(2):
        costs.append(await statements_of(engine, lambda: run.flush(steps)))
    for _ in range(2):
        costs.append(await statements_of(engine, lambda: run.finish("abandoned")))
    for _ in range(2):
        costs.append(
            await statements_of(
                engine,
                lambda: record(run.store.set_conversation_status, run.conversation, "closed"),
            )
        )
    return costs


async def test_recording_sites_write_facts_once_and_no_statement_of_their_own(
    db_engine: AsyncEngine, migrated_url: str, clean_db: None
) -> None:
    run = await make_run(db_engine, "counted")
    assert await facts_by_kind(db_engine) == {"contact": 1, "status": 1, "run": 1}
    on = await drive(db_engine, run, "counted")
    # Each site's transaction wrote its facts (triggers), a retry none; no rollup row yet.
    assert await facts_by_kind(db_engine) == {
        "contact": 1,
        "status": 2,  # opened; closed (reopening an active conversation changes nothing)
        "run": 2,
        "message": 1,
        "step": 2,
        "end": 1,
    }
    assert await rolled_up(db_engine) == 0
    off_engine = make_engine(migrated_url, pre_ping=False, analytics_facts=False)
    try:
        before = await facts_by_kind(db_engine)
        off_run = Run(ConversationStore(make_session_factory(off_engine)), run.bot, run.channel)
        await off_run.start(off_engine, "not counted")
        off = await drive(off_engine, off_run, "not counted")
        assert await facts_by_kind(db_engine) == before  # BOTBUILDER_ANALYTICS_ROLLUPS=false
    finally:
        await off_engine.dispose()
    assert on == off  # the rollups add no statement to any of the engine's transactions


async def test_an_outbound_message_counts_its_response_time(
    db_engine: AsyncEngine, clean_db: None
) -> None:
    run = await make_run(db_engine, "answered")
    await run.inbound("hi")
    async with make_session_factory(db_engine).begin() as session:
        session.add(
            Message(
                conversation_id=uuid.UUID(run.conversation),
                channel_id=uuid.UUID(run.channel),
                direction="outbound",
                type="text",
                content={"text": "hello"},
                text="hello",
                status="sent",
            )
        )
    assert await fold_all(db_engine) == 5  # contact, opened, run, in, out
    async with db_engine.connect() as connection:
        counted = await connection.execute(
            text("""SELECT sum(messages_in), sum(messages_out), sum(responses),
                           sum(response_bucket_0) FROM analytics_bot_hours WHERE bot_id = :bot"""),
            {"bot": run.bot},
        )
        assert tuple(counted.one()) == (1, 1, 1, 1)


INSERT_MESSAGES = text("""
    INSERT INTO messages (conversation_id, channel_id, direction, type, content, text, status)
    SELECT :conversation, :channel, 'inbound', 'text', '{}', 'hi', 'received'
    FROM generate_series(1, :n)""")


async def add_messages(engine: AsyncEngine, run: Run, n: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            INSERT_MESSAGES, {"conversation": run.conversation, "channel": run.channel, "n": n}
        )


async def messages_in(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return await connection.scalar(text("SELECT sum(messages_in) FROM analytics_bot_hours"))


async def test_drainers_side_by_side_count_each_fact_once(
    db_engine: AsyncEngine, clean_db: None
) -> None:
    runs = [await make_run(db_engine, f"contact-{n}") for n in range(3)]
    for run in runs:
        await add_messages(db_engine, run, 400)
        for _ in range(10):
            await run.flush(run.steps(("ask", "invalid"), ("check", "default")))
        await run.finish("completed")
    # Three drainers claiming small batches at once: SKIP LOCKED gives each different facts.
    drained = await asyncio.gather(*(fold_all(db_engine, batch=50) for _ in range(3)))
    # Per run: its contact, opening and start, the messages, the steps and its end.
    assert sum(drained) == 3 * (3 + 400 + 20 + 1)
    assert await facts_by_kind(db_engine) == {}
    assert await messages_in(db_engine) == 1200
    await rollups_agree_with_raw_rows(db_engine)


async def test_the_drainer_folds_on_notify_and_survives_errors_and_lost_connections(
    db_engine: AsyncEngine, migrated_url: str, clean_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = await make_run(db_engine, "live")
    await add_messages(db_engine, run, 2)  # left before the drainer starts: drained at start
    async with draining(migrated_url, make_session_factory(db_engine)):
        await rollups_drained(db_engine)
        assert await messages_in(db_engine) == 2
        await add_messages(db_engine, run, 3)  # a commit wakes it (nothing polls)
        await rollups_drained(db_engine)
        assert await messages_in(db_engine) == 5

        failures = []
        real_fold = drainer_module.fold

        async def failing_once(session: Any, limit: int) -> int:
            if not failures:
                failures.append(limit)
                raise RuntimeError("the database went away")
            return await real_fold(session, limit)

        monkeypatch.setattr(drainer_module, "fold", failing_once)
        await add_messages(db_engine, run, 4)  # the first attempt fails; the facts stay
        await rollups_drained(db_engine)
        assert failures and await messages_in(db_engine) == 9

        first = await wait_for(lambda: listener_pid(db_engine), what="the drainer to listen")
        async with db_engine.connect() as connection:  # its LISTEN connection dropped
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await add_messages(db_engine, run, 1)
        await rollups_drained(db_engine)
        assert await messages_in(db_engine) == 10

        async def listening_again() -> bool:
            return await listener_pid(db_engine) not in (None, first)

        await wait_for(listening_again, what="the drainer to listen on a new connection")
        await add_messages(db_engine, run, 1)  # woken on the new connection
        await rollups_drained(db_engine)
        assert await messages_in(db_engine) == 11


async def test_the_drainer_takes_the_database_url_in_sqlalchemy_spelling(
    db_engine: AsyncEngine, migrated_url: str, clean_db: None
) -> None:
    run = await make_run(db_engine, "spelled")
    async with draining(sqlalchemy_url(migrated_url), make_session_factory(db_engine)):
        await wait_for(lambda: listener_pid(db_engine), what="the drainer to listen")
        await add_messages(db_engine, run, 2)
        await rollups_drained(db_engine)
        assert await messages_in(db_engine) == 2


async def listener_pid(engine: AsyncEngine) -> int | None:
    """The backend of the drainer's LISTEN connection, once it listens."""
    async with engine.connect() as connection:
        return await connection.scalar(
            text("""SELECT pid FROM pg_stat_activity WHERE application_name = 'analytics-drainer'
                    AND query LIKE 'LISTEN%'""")
        )
