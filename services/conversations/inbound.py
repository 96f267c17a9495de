"""Storing a contact's message once, with what it tells the inbox and integrators: by the
conversation's own local activity, or by a flow run's next write when the run took the message
as its answer before it was stored (`UnstoredInbound`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, bindparam, column, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from models.messages import InboundMessage
from models.payloads.engine import UnstoredInbound
from services.conversations.message_rows import MESSAGES, new_message
from services.conversations.notify import MESSAGES_CHANNEL
from services.webhooks import outbox as webhook_outbox

# The conversation's last message time and when the contact last wrote (the provider's
# timestamp, else when the message is stored: the WhatsApp 24-hour window), set (and the inbox
# told) by the statement that stores the message, unless the message was there before (a repeat,
# or an earlier attempt's: the statement's snapshot does not see its own insert). Written as SQL:
# a Core UPDATE in a CTE would also set every column of `conversations` named like one of the
# insert's parameters.
LAST_MESSAGE_AT = (
    text(
        "UPDATE conversations SET last_message_at = now(), "
        "last_inbound_at = GREATEST(last_inbound_at, COALESCE(CAST(:provider_timestamp AS "
        "timestamptz), LEAST(CAST(:received_at AS timestamptz), now()))) "
        "WHERE id = :conversation_id "
        "AND NOT EXISTS (SELECT FROM messages WHERE channel_id = :channel_id "
        "AND provider_message_id = :provider_message_id) "
        f"RETURNING pg_notify('{MESSAGES_CHANNEL}', CAST(id AS text))"
    )
    .columns(column("pg_notify"))
    .cte("last_message_at")
)
# Dated when our ingress accepted it (never later than now): stored in the same transaction as
# the reply to it, it still comes first in the conversation. The same statement writes its
# `message.received` event when an endpoint subscribes.
STORED = (
    new_message(
        "inbound",
        "received",
        ["channel_id", "provider_message_id"],
        created_at=func.least(bindparam("received_at", type_=DateTime(timezone=True)), func.now()),
    )
    .add_cte(LAST_MESSAGE_AT)
    .returning(*MESSAGES.c["channel_id", "direction", "type", "text", "provider_message_id"])
    .cte("stored")
)
NEW_INBOUND = select(STORED, webhook_outbox.NEW_ENDPOINTS).add_cte(
    STORED,
    *webhook_outbox.emitting(
        webhook_outbox.MESSAGE_SCOPE.format(messages="stored", which="m.inserted")
    ),
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
    message_id = uuid.uuid4()
    stored = (
        await session.execute(
            NEW_INBOUND,
            {
                "id": message_id,
                "conversation_id": uuid.UUID(conversation_id),
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
                "provider_timestamp": message.timestamp,
                **webhook_outbox.message_event_params(message_id, "received"),
            },
        )
    ).one()
    same_delivery = delivery_key is not None and stored.idempotency_key == delivery_key
    if not (stored.inserted or same_delivery):
        return False
    if not stored.inserted:  # a retried task: the first attempt committed all below
        return None
    webhook_outbox.wake_after_commit(session, stored.new_endpoints)
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
