"""PostgreSQL NOTIFY of conversation changes, read by the API's live streams and subscriptions."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, func, text
from sqlalchemy.ext.asyncio import AsyncSession

MESSAGES_CHANNEL = "bb_messages"
CONVERSATIONS_CHANNEL = "bb_conversations"
NOTIFY = text("SELECT pg_notify(:channel, :payload)")


def notifying(channel: str, conversation_id: ColumnElement[Any]) -> ColumnElement[Any]:
    """The NOTIFY of `notify_message` or `notify_conversation` as a column of a write's
    `RETURNING`: it costs no round trip of its own."""
    return func.pg_notify(channel, cast(conversation_id, Text))


async def notify_message(session: AsyncSession, conversation_id: uuid.UUID | str) -> None:
    """Tell LISTENers (live streams, subscriptions) that a conversation has a new message."""
    await session.execute(NOTIFY, {"channel": MESSAGES_CHANNEL, "payload": str(conversation_id)})


async def notify_conversation(session: AsyncSession, conversation_id: uuid.UUID | str) -> None:
    """Tell LISTENers that a conversation changed (opened, status, agent, tags, notes)."""
    await session.execute(
        NOTIFY, {"channel": CONVERSATIONS_CHANNEL, "payload": str(conversation_id)}
    )
