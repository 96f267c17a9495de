"""Opening a conversation: the contact seen with its bot's traits in one statement, and nothing
written for a bot that no longer exists."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import ActivityEnvironment

from activities.conversation_store import ConversationStore
from models.conversation_tables import Contact
from models.db import make_session_factory
from models.payloads.engine import ContactRef, ConversationInput
from tests.helpers import chain, make_web_bot, node


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
