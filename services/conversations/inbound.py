"""Storing a contact's message once, with what it tells the inbox and integrators: by the
conversation's own local activity, or by a flow run's next write when the run took the message
as its answer before it was stored (`UnstoredInbound`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, bindparam, func, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.conversation_tables import Conversation
from models.messages import InboundMessage
from models.payloads.engine import UnstoredInbound
from services.conversations.message_rows import new_message
from services.conversations.notify import MESSAGES_CHANNEL, notifying
from services.webhooks import outbox as webhook_outbox

CONVERSATIONS = Conversation.__table__
# Dated when our ingress accepted it (never later than now): stored in the same transaction as
# the reply to it, it still comes first in the conversation.
NEW_INBOUND = new_message(
    "inbound",
    "received",
    ["channel_id", "provider_message_id"],
    created_at=func.least(bindparam("received_at", type_=DateTime(timezone=True)), func.now()),
)
LAST_MESSAGE_AT = (
    update(CONVERSATIONS)
    .where(CONVERSATIONS.c.id == bindparam("conversation_id"))
    .values(last_message_at=func.now())
    .returning(notifying(MESSAGES_CHANNEL, CONVERSATIONS.c.id))  # the inbox hears of it
)


async def store_inbound(
    session: AsyncSession,
    conversation_id: str,
    channel_id: str,
    message: InboundMessage,
    delivery_key: str | None,
) -> bool | None:
    """Store the message in the session's transaction. True: stored now; None: stored by an
    earlier attempt of this delivery (a retried task); False: stored by another delivery (a
    duplicate)."""
    conversation = uuid.UUID(conversation_id)
    stored = (
        await session.execute(
            NEW_INBOUND,
            {
                "conversation_id": conversation,
                "channel_id": uuid.UUID(channel_id),
                "type": message.kind,
                "content": message.model_dump(mode="json"),
                "text": message.answer_text(),
                "provider_message_id": message.provider_message_id,
                "idempotency_key": delivery_key,
                "sent_by_user_id": None,
                "received_at": (
                    datetime.fromisoformat(message.received_at) if message.received_at else None
                ),
            },
        )
    ).one()
    same_delivery = delivery_key is not None and stored.idempotency_key == delivery_key
    if not (stored.inserted or same_delivery):
        return False
    if not stored.inserted:  # a retried task: the first attempt committed all below
        return None
    await session.execute(LAST_MESSAGE_AT, {"conversation_id": conversation})
    await webhook_outbox.message_event(session, stored.id, "received")
    return True


async def store_unstored(session: AsyncSession, messages: list[UnstoredInbound]) -> list[str]:
    """Store the messages a run took before they were stored, in order; the channel kinds of
    those stored now (not by an earlier attempt, not duplicates)."""
    kinds = []
    for unstored in messages:
        new = await store_inbound(
            session,
            unstored.conversation_id,
            unstored.channel_id,
            unstored.message,
            unstored.delivery_key,
        )
        if new:
            kinds.append(unstored.channel_kind)
    return kinds
