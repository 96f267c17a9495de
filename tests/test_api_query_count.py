"""Nested lists are batched: a page of bots with their channels, flows and versions, or of
conversations with their notes, runs and steps, costs the same number of SQL statements whatever
the page's length (one query per level)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from models.conversation_tables import Contact, Conversation, ConversationNote, FlowRun, FlowRunStep
from models.db import make_session_factory
from services.bots.publishing import add_channel, create_bot, create_flow, publish_flow
from tests.api_fixtures import greeting_flow
from tests.graphql_client import GraphQL, sign_up

NESTED = "{ bots(first: 20) { id channels { id } flows { id versions { id } } } }"
T = TypeVar("T")
INBOX = """query($bot: ID!) { conversations(botId: $bot, first: 20) {
  items { id notes { id } flowRuns { id steps { sequence } } position { source } } } }"""


@contextmanager
def counted_statements() -> Iterator[list[str]]:
    """Every SQL statement any engine of this process runs inside the block."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", count)


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
            conversation.current_flow_run_id = run.id
    return str(bot.id)


async def counted(owner: GraphQL, query: str, **variables: Any) -> tuple[dict[str, Any], int]:
    with counted_statements() as statements:
        data = await owner(query, **variables)
    return data, len(statements)


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
    # caller lookup, bots, channels, flows, versions: one statement per level, not per parent
    assert many_statements <= 8, many_statements


async def test_inbox_lists_cost_the_same_for_5_and_20_conversations(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    owner, payload = await sign_up(api)
    organization_id = payload["member"]["organization"]["id"]
    few_bot = await add_conversations(db_engine, organization_id, 5)
    many_bot = await add_conversations(db_engine, organization_id, 20)

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
    assert many_statements == few_statements, (few_statements, many_statements)
