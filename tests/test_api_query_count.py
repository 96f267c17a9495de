"""One GraphQL answer reads one snapshot, in batches: a page of bots with their channels, flows
and versions, of conversations with their notes, runs, steps and messages, or of webhook
endpoints with their stats, costs the same number of SQL statements and connections whatever the
page's length (one query per level), and a change committed while the answer is being read does
not show in half of it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import Pool

from models.conversation_tables import (
    Contact,
    Conversation,
    ConversationNote,
    FlowRun,
    FlowRunStep,
    Message,
)
from models.db import make_session_factory
from models.webhook_tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from services.bots.publishing import add_channel, create_bot, create_flow, publish_flow
from tests.api_fixtures import greeting_flow
from tests.graphql_client import GraphQL, sign_up
from tests.helpers import rollups_drained

NESTED = "{ bots(first: 20) { id channels { id } flows { id versions { id } } } }"
T = TypeVar("T")
INBOX = """query($bot: ID!) { conversations(botId: $bot, first: 20) {
  items { id notes { id } flowRuns { id steps { sequence } } position { source }
          messages(first: 2) { items { text } nextCursor } } } }"""
ENDPOINTS = """{ webhookEndpoints { id stats {
  total succeeded failed pending averageLatencyMs lastSuccessAt lastError } } }"""


@contextmanager
def counted_statements() -> Iterator[tuple[list[str], list[object]]]:
    """Every SQL statement any engine of this process runs inside the block, and every
    connection taken from a pool."""
    statements: list[str] = []
    checkouts: list[object] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    def checkout(connection: object, *_: Any) -> None:
        checkouts.append(connection)

    event.listen(Engine, "before_cursor_execute", count)
    event.listen(Pool, "checkout", checkout)
    try:
        yield statements, checkouts
    finally:
        event.remove(Engine, "before_cursor_execute", count)
        event.remove(Pool, "checkout", checkout)


@contextmanager
def held_connections() -> Iterator[list[object]]:
    """The pool entries taken inside the block and not given back yet (an entry outlives its
    connection: one invalidated by a cancelled read is still checked in)."""
    held: list[object] = []

    def checkout(_connection: object, entry: object, *_: Any) -> None:
        held.append(entry)

    def checkin(_connection: object, entry: object) -> None:
        if entry in held:
            held.remove(entry)

    event.listen(Pool, "checkout", checkout)
    event.listen(Pool, "checkin", checkin)
    try:
        yield held
    finally:
        event.remove(Pool, "checkout", checkout)
        event.remove(Pool, "checkin", checkin)


async def add_bots(engine: AsyncEngine, organization_id: str, first: int, last: int) -> None:
    """Bots `first`..`last`-1, each with two channels and two flows of two versions each."""
    async with make_session_factory(engine).begin() as session:
        for number in range(first, last):
            bot = await create_bot(session, uuid.UUID(organization_id), f"bot {number:02}")
            for kind in ("web", "twilio"):
                await add_channel(session, bot.id, kind, kind)
            for name in ("sales", "support"):
                flow = await create_flow(session, bot.id, {**greeting_flow(), "name": name})
                await publish_flow(session, flow, "first")
                await publish_flow(session, flow, "second")


async def added(session: AsyncSession, row: T) -> T:
    """`row`, inserted (so its generated id is known)."""
    session.add(row)
    await session.flush()
    return row


async def add_conversations(engine: AsyncEngine, organization_id: str, count: int) -> str:
    """A bot with `count` conversations, each with a note and a current run of two steps (its
    workflow gone: its position is read from the database); the bot's id."""
    async with make_session_factory(engine).begin() as session:
        bot = await create_bot(session, uuid.UUID(organization_id), f"inbox {count}")
        channel = await add_channel(session, bot.id, "web", "web")
        flow = await create_flow(session, bot.id, {**greeting_flow(), "name": "greeting"})
        version = await publish_flow(session, flow, "first")
        for number in range(count):
            contact = await added(
                session, Contact(bot_id=bot.id, channel_kind="web", external_id=f"c{number}")
            )
            conversation = await added(
                session,
                Conversation(
                    bot_id=bot.id,
                    channel_id=channel.id,
                    contact_id=contact.id,
                    workflow_id=f"conversation-{bot.id}-{number}",
                ),
            )
            run = await added(
                session,
                FlowRun(
                    conversation_id=conversation.id,
                    flow_id=flow.id,
                    flow_version_id=version.id,
                    workflow_id=f"run-{bot.id}-{number}",
                ),
            )
            session.add_all(
                [
                    FlowRunStep(flow_run_id=run.id, sequence=s, node_id="hi", node_type="message")
                    for s in (1, 2)
                ]
            )
            session.add(ConversationNote(conversation_id=conversation.id, body="called back"))
            session.add_all(
                [
                    Message(
                        conversation_id=conversation.id,
                        channel_id=channel.id,
                        direction="inbound",
                        type="text",
                        text=f"{number}: {text}",
                        status="received",
                        created_at=datetime(2026, 1, 1, 12, minute, tzinfo=UTC),
                    )
                    for minute, text in enumerate(("hello", "my order", "thanks"))
                ]
            )
            conversation.current_flow_run_id = run.id
    return str(bot.id)


async def counted(owner: GraphQL, query: str, **variables: Any) -> tuple[dict[str, Any], int]:
    """The query's answer, and the number of statements and connections it took."""
    with counted_statements() as (statements, checkouts):
        data = await owner(query, **variables)
    return data, (len(statements), len(checkouts))


async def test_nested_lists_cost_the_same_for_5_and_20_bots(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    owner, payload = await sign_up(api)
    organization_id = payload["member"]["organization"]["id"]

    await add_bots(db_engine, organization_id, 0, 5)
    few, few_statements = await counted(owner, NESTED)
    await add_bots(db_engine, organization_id, 5, 20)
    many, many_statements = await counted(owner, NESTED)

    assert len(few["bots"]) == 5 and len(many["bots"]) == 20
    for bot in many["bots"]:
        assert len(bot["channels"]) == 2
        assert [len(flow["versions"]) for flow in bot["flows"]] == [2, 2]
    assert many_statements == few_statements, (few_statements, many_statements)
    # caller lookup, bots, channels, flows, versions: one statement per level, not per parent;
    # one connection finds the caller, one holds the answer's snapshot
    statements, connections = many_statements
    assert statements <= 8 and connections <= 2, many_statements


async def test_inbox_lists_cost_the_same_for_5_and_20_conversations(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    owner, payload = await sign_up(api)
    organization_id = payload["member"]["organization"]["id"]
    few_bot = await add_conversations(db_engine, organization_id, 5)
    many_bot = await add_conversations(db_engine, organization_id, 20)
    await rollups_drained(db_engine)  # no drain batch among the statements counted below

    few, few_statements = await counted(owner, INBOX, bot=few_bot)
    many, many_statements = await counted(owner, INBOX, bot=many_bot)

    assert len(few["conversations"]["items"]) == 5
    items = many["conversations"]["items"]
    assert len(items) == 20
    for conversation in items:
        assert len(conversation["notes"]) == 1
        assert [[s["sequence"] for s in run["steps"]] for run in conversation["flowRuns"]] == [
            [1, 2]
        ]
        assert conversation["position"] == {"source": "database"}
        messages = conversation["messages"]
        owners, texts = zip(*(m["text"].split(": ") for m in messages["items"]), strict=True)
        assert texts == ("hello", "my order") and owners[0] == owners[1]
        assert messages["nextCursor"]  # the third message is on the next page
    # each conversation got its own messages
    assert len({c["messages"]["items"][0]["text"] for c in items}) == 20
    assert many_statements == few_statements, (few_statements, many_statements)


async def add_endpoints(engine: AsyncEngine, organization_id: str, count: int) -> None:
    """`count` webhook endpoints, endpoint n with n+1 deliveries: the first succeeded after a
    failed attempt, the others pending."""
    organization = uuid.UUID(organization_id)
    async with make_session_factory(engine).begin() as session:
        event_rows = [
            await added(session, WebhookEvent(organization_id=organization, type="t", payload={}))
            for _ in range(count)
        ]
        for number in range(count):
            endpoint = await added(
                session,
                WebhookEndpoint(
                    organization_id=organization,
                    url=f"https://example.com/{number}",
                    events=["*"],
                    secret_encrypted="sealed",
                ),
            )
            for index, event_row in enumerate(event_rows[: number + 1]):
                delivery = await added(
                    session,
                    WebhookDelivery(
                        event_id=event_row.id,
                        endpoint_id=endpoint.id,
                        status="succeeded" if index == 0 else "pending",
                    ),
                )
                if index == 0:
                    session.add_all(
                        [
                            WebhookAttempt(
                                delivery_id=delivery.id,
                                attempted_at=datetime(2026, 1, 1, 12, 0, second, tzinfo=UTC),
                                status_code=code,
                                duration_ms=duration,
                                error=error,
                            )
                            for second, code, duration, error in (
                                (0, 500, 100, f"HTTP 500 at {number}"),
                                (1, 200, 300, None),
                            )
                        ]
                    )


async def test_endpoint_stats_cost_the_same_for_5_and_20_endpoints(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    few_owner, few_payload = await sign_up(api)
    many_owner, many_payload = await sign_up(api)
    await add_endpoints(db_engine, few_payload["member"]["organization"]["id"], 5)
    await add_endpoints(db_engine, many_payload["member"]["organization"]["id"], 20)

    few, few_statements = await counted(few_owner, ENDPOINTS)
    many, many_statements = await counted(many_owner, ENDPOINTS)

    assert len(few["webhookEndpoints"]) == 5
    endpoints = many["webhookEndpoints"]
    assert len(endpoints) == 20
    for number, endpoint in enumerate(endpoints):
        assert endpoint["stats"] == {
            "total": number + 1,
            "succeeded": 1,
            "failed": 0,
            "pending": number,
            "averageLatencyMs": 200.0,
            "lastSuccessAt": "2026-01-01T12:00:01+00:00",
            "lastError": f"HTTP 500 at {number}",
        }
    assert many_statements == few_statements, (few_statements, many_statements)


async def test_one_answer_reads_one_snapshot(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    """Another connection adds a bot and a channel after the answer has read its bots and before
    it reads their channels: neither shows; the next answer sees both."""
    owner, payload = await sign_up(api)
    organization_id = payload["member"]["organization"]["id"]
    await add_bots(db_engine, organization_id, 0, 3)
    url = db_engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    committed: list[str] = []

    def commit_in_between(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if committed or "FROM bots" not in statement or "organization_id" not in statement:
            return
        with psycopg.connect(url, autocommit=True) as other:
            other.execute(
                "INSERT INTO bots (organization_id, name) VALUES (%s, 'late bot')",
                (organization_id,),
            )
            row = other.execute(
                "INSERT INTO channels (bot_id, kind, name) SELECT id, 'web', 'late' FROM bots "
                "WHERE organization_id = %s AND name = 'bot 00' RETURNING id",
                (organization_id,),
            ).fetchone()
        committed.append(str(row))

    # two root fields at once: they take turns on the one snapshot, and authenticate once
    query = "{ bots { name channels { name } } webhookEndpoints { id } }"
    event.listen(Engine, "after_cursor_execute", commit_in_between)
    try:
        during, cost = await counted(owner, query)
    finally:
        event.remove(Engine, "after_cursor_execute", commit_in_between)
    after = await owner(query)

    assert committed, "the other connection never committed"
    assert [bot["name"] for bot in during["bots"]] == ["bot 00", "bot 01", "bot 02"]
    assert [len(bot["channels"]) for bot in during["bots"]] == [2, 2, 2]
    assert [bot["name"] for bot in after["bots"]] == ["bot 00", "bot 01", "bot 02", "late bot"]
    assert [len(bot["channels"]) for bot in after["bots"]] == [3, 2, 2, 0]
    assert cost[1] <= 2, cost  # the caller's lookup and the snapshot: not one per loader


async def test_the_snapshot_is_given_back_when_the_answer_ends(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    """A query failing halfway and a mutation whose answer is read after its write both give
    every connection back by the time they answer."""
    owner, payload = await sign_up(api)
    await add_bots(db_engine, payload["member"]["organization"]["id"], 0, 2)
    missing = str(uuid.uuid4())
    with held_connections() as held:
        failed = await owner.result(
            "query($id: ID!) { bots { channels { id } } bot(id: $id) { id } }", id=missing
        )
        assert held == []
        created = await owner(
            'mutation { a: createBot(input: {name: "a"}) { name channels { id } } '
            'b: createBot(input: {name: "b"}) { name } }'
        )
        assert held == []
        after = await owner("{ bots { name } }")
        assert held == []

    # `bot` is non-null: its error empties the answer and cancels the channels' read mid-way
    assert failed["data"] is None
    assert [error["extensions"]["code"] for error in failed["errors"]] == ["NOT_FOUND"]
    assert created == {"a": {"name": "a", "channels": []}, "b": {"name": "b"}}
    assert [bot["name"] for bot in after["bots"]] == ["a", "b", "bot 00", "bot 01"]
