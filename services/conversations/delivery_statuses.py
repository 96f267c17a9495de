"""Delivery statuses on stored messages: they only move forward (sent < delivered < read).

Every report is also kept in `message_status_events`, so a report that arrives before the send
activity has stored the provider's message id is applied as soon as it does.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, column, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from channels.base import StatusUpdate
from models.conversation_tables import DELIVERY_STATUSES, Message, MessageStatusEvent
from services.conversations.notify import MESSAGES_CHANNEL, notify_message
from services.webhooks import outbox as webhook_outbox

# The statuses a message may be in for a report to replace it.
PREDECESSORS: dict[str, tuple[str, ...]] = {
    "sent": ("pending",),
    "delivered": ("pending", "sent"),
    "read": ("pending", "sent", "delivered"),
    "failed": ("pending", "sent"),
}


LOCK = "pg_advisory_xact_lock(hashtextextended(:key, 0))"
LOCK_REPORTS = text(f"SELECT {LOCK}")
# A sent message's provider id, taking the lock as it writes: the next statement, which reads
# the early reports, runs with the lock held (one round trip fewer than locking first). The same
# statement writes the `message.sent` event when an endpoint subscribes.
SENT_ROW = (
    text(
        "UPDATE messages SET status = 'sent', provider_message_id = :provider_message_id, "
        f"status_updated_at = now(), error = NULL FROM (SELECT {LOCK}) AS locked "
        "WHERE messages.id = :message_id RETURNING messages.*, "
        f"pg_notify('{MESSAGES_CHANNEL}', CAST(messages.conversation_id AS text))"
    )
    .columns(column("id"))
    .cte("sent")
)
SENT = select(webhook_outbox.NEW_ENDPOINTS).add_cte(
    SENT_ROW,
    *webhook_outbox.emitting(webhook_outbox.MESSAGE_SCOPE.format(messages="sent", which="true")),
)
STATUS_EVENTS = MessageStatusEvent.__table__
EARLY_REPORTS = select(STATUS_EVENTS.c.status, STATUS_EVENTS.c.error).where(
    STATUS_EVENTS.c.channel_id == bindparam("channel_id"),
    STATUS_EVENTS.c.provider_message_id == bindparam("provider_message_id"),
)


def reports_key(channel_id: uuid.UUID, provider_id: str) -> str:
    return f"{channel_id}/{provider_id}"


async def lock_reports(session: AsyncSession, channel_id: uuid.UUID, provider_id: str) -> None:
    """Serialise a report with the send recording that provider id (until commit): whichever
    commits second sees the other's write, so a report racing the send is never lost."""
    await session.execute(LOCK_REPORTS, {"key": reports_key(channel_id, provider_id)})


async def record_status(session: AsyncSession, channel_id: uuid.UUID, report: StatusUpdate) -> None:
    """Keep the report and move the message forward if it is already known."""
    await lock_reports(session, channel_id, report.provider_message_id)
    await session.execute(
        insert(MessageStatusEvent)
        .values(
            channel_id=channel_id,
            provider_message_id=report.provider_message_id,
            status=report.status,
            error=report.error,
        )
        .on_conflict_do_nothing()
    )
    await advance(session, channel_id, report.provider_message_id, report.status, report.error)


async def record_sent(
    session: AsyncSession, message_id: uuid.UUID, channel_id: uuid.UUID, provider_message_id: str
) -> None:
    """Mark the message sent with the provider's id (the inbox and integrators hear of it) and
    apply the reports that arrived before it, under the reports' lock (`lock_reports`)."""
    endpoints = await session.scalar(
        SENT,
        {
            "message_id": message_id,
            "provider_message_id": provider_message_id,
            "key": reports_key(channel_id, provider_message_id),
            **webhook_outbox.message_event_params(message_id, "sent"),
        },
    )
    webhook_outbox.wake_after_commit(session, endpoints)
    await _apply_early_reports(session, channel_id, provider_message_id)


async def _apply_early_reports(
    session: AsyncSession, channel_id: uuid.UUID, provider_message_id: str
) -> None:
    """Apply the reports that arrived before the message had its provider id, in status order
    (the caller holds the lock)."""
    events = (
        await session.execute(
            EARLY_REPORTS,
            {"channel_id": channel_id, "provider_message_id": provider_message_id},
        )
    ).all()
    for event in sorted(events, key=lambda event: DELIVERY_STATUSES.index(event.status)):
        await advance(session, channel_id, provider_message_id, event.status, event.error)


async def advance(
    session: AsyncSession,
    channel_id: uuid.UUID,
    provider_message_id: str,
    status: str,
    error: dict[str, Any] | None,
) -> None:
    """Set `status` unless the message is already as far or further."""
    values: dict[str, Any] = {"status": status, "status_updated_at": func.now()}
    if error is not None:
        values["error"] = error
    statement = (
        update(Message)
        .where(
            Message.channel_id == channel_id,
            Message.direction == "outbound",
            Message.provider_message_id == provider_message_id,
            Message.status.in_(PREDECESSORS[status]),
        )
        .values(**values)
        .returning(Message.id, Message.conversation_id)
    )
    changed = (await session.execute(statement)).first()
    if changed is not None:
        await notify_message(session, changed.conversation_id)
        await webhook_outbox.message_event(session, changed.id, status, error)
