"""The conversation store's writes: the contact seen with its bot's traits in one statement,
nothing written for a bot that no longer exists, and the webhook events its writes carry."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import ActivityEnvironment

from activities.conversation_store import ConversationStore
from models.conversation_tables import Contact
from models.db import make_session_factory
from models.payloads.engine import ContactRef, ConversationInput, RunEnd
from services.webhooks import outbox
from tests.helpers import chain, make_web_bot, node

SUBSCRIBE_ALL = """INSERT INTO webhook_endpoints (id, organization_id, bot_id, url, events, headers,
                                               secret_encrypted)
    SELECT gen_random_uuid(), organization_id, id, 'http://127.0.0.1:9/', ARRAY['*'], '{}', 'x'
    FROM bots WHERE id = :bot RETURNING id"""


def opening(bot: str, channel: str, contact: ContactRef) -> ConversationInput:
    return ConversationInput(bot_id=bot, channel_id=channel, channel_kind="web", contact=contact)


async def contacts_of(engine: AsyncEngine, bot: str) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(
            select(func.count()).where(Contact.bot_id == uuid.UUID(bot))
        )
    return count or 0


async def test_the_contact_is_seen_again_with_its_bots_traits(db_engine: AsyncEngine) -> None:
    bot, channel = await make_web_bot(
        db_engine,
        chain(node("hi", "message", content="Hi")),
        bot_settings={"inactivity_timeout_seconds": 600},
    )
    store, env = ConversationStore(make_session_factory(db_engine)), ActivityEnvironment()

    first = await env.run(
        store.open_conversation, opening(bot, channel, ContactRef(external_id="v1", name="Ana"))
    )
    again = await env.run(
        store.open_conversation, opening(bot, channel, ContactRef(external_id="v1"))
    )

    assert (first.bot.name, first.inactivity_seconds) == ("test bot", 600)
    assert again.contact_id == first.contact_id
    assert again.conversation_id == first.conversation_id
    assert again.contact["name"] == "Ana"  # a message without a name keeps the one known
    assert await contacts_of(db_engine, bot) == 1


async def test_a_deleted_bot_gets_no_contact(db_engine: AsyncEngine) -> None:
    bot, channel = await make_web_bot(db_engine, chain(node("hi", "message", content="Hi")))
    async with db_engine.begin() as connection:
        await connection.execute(text("DELETE FROM bots WHERE id = :id"), {"id": bot})
    store = ConversationStore(make_session_factory(db_engine))

    with pytest.raises(ValueError, match=f"bot {bot} does not exist"):
        await ActivityEnvironment().run(
            store.open_conversation, opening(bot, channel, ContactRef(external_id="v2"))
        )

    assert await contacts_of(db_engine, bot) == 0


async def test_a_runs_writes_carry_its_events_once_and_only_those_it_has(
    db_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot, channel = await make_web_bot(db_engine, chain(node("hi", "message", content="Hi")))
    async with db_engine.begin() as connection:
        endpoint = await connection.scalar(text(SUBSCRIBE_ALL), {"bot": bot})
        flow, version = (
            await connection.execute(
                text("SELECT id, published_version_id FROM flows WHERE bot_id = :bot"),
                {"bot": bot},
            )
        ).one()
    woken: list[set[str]] = []
    monkeypatch.setattr(outbox, "_waker", None)  # restored after the test
    outbox.on_commit(woken.append)
    store, env = ConversationStore(make_session_factory(db_engine)), ActivityEnvironment()
    opened = await env.run(
        store.open_conversation, opening(bot, channel, ContactRef(external_id="v3"))
    )

    async def run_ending(status: str, error: str | None = None) -> str:
        workflow_id = f"run-{uuid.uuid4()}"
        start = (opened.conversation_id, str(flow), str(version), workflow_id, {})
        run_id = await env.run(store.begin_flow_run, *start)
        assert await env.run(store.begin_flow_run, *start) == run_id  # a retry: no new event
        end = RunEnd(run_id=run_id, status=status, variables={}, error=error)
        await env.run(store.finish_flow_run, end)
        return run_id

    cancelled, failed = await run_ending("cancelled"), await run_ending("failed", "boom")

    async with db_engine.connect() as connection:
        rows = (
            await connection.execute(
                text("SELECT type, payload FROM webhook_events WHERE bot_id = :bot"), {"bot": bot}
            )
        ).all()
    events = sorted((row.type, row.payload["data"].get("flow_run_id")) for row in rows)
    [failure] = [row.payload for row in rows if row.type == "flow.failed"]
    assert events == sorted(
        [
            ("conversation.started", None),
            ("flow.started", cancelled),
            ("flow.started", failed),
            ("flow.failed", failed),
        ]
    )
    assert (failure["data"]["status"], failure["data"]["error"]) == ("failed", "boom")
    assert woken and all(ids == {str(endpoint)} for ids in woken)
