"""The `send_message` activity: store an outbound message once, then send it via its channel.

On WhatsApp (Cloud API or Twilio) only templates may be sent more than 24 hours after the
contact's last message (by the provider's timestamp: a webhook may arrive late). Then the
channel's `reengagement_template` is sent instead when configured; otherwise the message fails
with the non-retryable error `window_closed`. Sends are paced per sender number
(`messages_per_second`, default from the settings) across the whole worker.

Neither Meta nor Twilio accepts an idempotency key, so a send is at least once, with the
smallest window we can give: the row is stored `sending` in the one transaction before the
provider call (with the answers the run took and the steps it ran since its last write, the
run's row when this is its first write, and the sender's pacing slot) and `sent`, with the
provider's message id, in one transaction right after it. A retry that finds `sent` sends
nothing; one that finds `sending` knows an attempt died (or timed out) during the provider call
itself, cannot ask the provider whether the message arrived, and sends again, logging a possible
duplicate: a lost reply is worse than a repeated one.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import metrics
from channels.base import ChannelAccess, PermanentSendError, RetryableSendError
from channels.pacing import reserve_slot
from channels.registry import build_adapters
from models.bot_tables import Channel
from models.conversation_tables import Conversation, Message
from models.db import json_or_null
from models.messages import OutboundMessage, TemplateMessage
from models.payloads import activity_names
from models.payloads.engine import RunEnd, SendRequest, SentMessage
from models.secret_box import SecretBox
from models.settings import Settings
from services.conversations.delivery_statuses import record_sent
from services.conversations.flow_runs import store_run_end, store_run_start
from services.conversations.flow_steps import store_steps
from services.conversations.inbound import store_unstored
from services.conversations.message_rows import MESSAGES, new_message
from services.conversations.notify import MESSAGES_CHANNEL, notifying
from services.webhooks import outbox as webhook_outbox

DONE_STATUSES = ("sent", "delivered", "read")
# A retry after a failed attempt sends again: the row is `sending` again before the call.
SENDING = text("UPDATE messages SET status = 'sending', status_updated_at = now() WHERE id = :id")
CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)

# The hot path's statements, built once (one compile and cache key, not one per send).
STORED = new_message("outbound", "sending", ["idempotency_key"]).cte("stored")
UNSENT = (  # a failed attempt (a sent one: `record_sent`)
    update(MESSAGES)
    .where(MESSAGES.c.id == bindparam("message_id"))
    .values(
        status=bindparam("status"),
        provider_message_id=None,
        status_updated_at=func.now(),
        error=json_or_null("error"),
    )
    .returning(notifying(MESSAGES_CHANNEL, MESSAGES.c.conversation_id))  # the inbox hears of it
)
CHANNELS = Channel.__table__
CONVERSATIONS = Conversation.__table__
# The row stored (or found again by a retry), its channel (null once deleted) and when the
# contact last wrote (which opens the 24-hour window; a channel without it, the web's, ignores
# it), in one statement.
NEW_OUTBOUND = select(
    STORED,
    CHANNELS.c.kind.label("channel_kind"),
    CHANNELS.c.config.label("channel_config"),
    CHANNELS.c.secrets_encrypted,
    select(CONVERSATIONS.c.last_inbound_at)
    .where(CONVERSATIONS.c.id == STORED.c.conversation_id)
    .scalar_subquery()
    .label("last_inbound"),
).select_from(STORED.outerjoin(CHANNELS, CHANNELS.c.id == bindparam("channel_id")))


class MessageSender:
    """Sends through the channel adapter; the idempotency key makes a retry never send twice."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], secret_box: SecretBox, settings: Settings
    ) -> None:
        self.sessions = sessions
        # The same ciphertext always opens to the same secrets: decrypt each once, not per send.
        self._open = secret_box.remembering()
        self.adapters = build_adapters(settings)
        self.default_rate = settings.messages_per_second

    @activity.defn(name=activity_names.SEND_MESSAGE)
    async def send_message(self, request: SendRequest) -> SentMessage:
        """Returns the stored message and when it was first stored."""
        message = request.message
        agent = uuid.UUID(request.sent_by_user_id) if request.sent_by_user_id else None
        new_row = {
            "id": uuid.uuid4(),
            "conversation_id": uuid.UUID(request.conversation_id),
            "channel_id": uuid.UUID(request.channel_id),
            "type": message.kind,
            "content": message.model_dump(mode="json"),
            "text": message.plain_text(),
            "provider_message_id": None,
            "idempotency_key": request.idempotency_key,
            "sent_by_user_id": agent,
        }
        delay = 0.0
        async with self.sessions.begin() as session:  # one transaction before the provider's
            answers = await store_unstored(session, request.inbound)
            stored = (await session.execute(NEW_OUTBOUND, new_row)).one()
            inserted = stored.inserted
            access = self._access(request.channel_id, stored)
            needs_window = access is not None and self.adapters[access.kind].needs_open_window(
                access
            )
            last_inbound = stored.last_inbound if needs_window else None
            started = (
                request.start is not None and (await store_run_start(session, request.start))[1]
            )
            if request.steps:
                await store_steps(session, request.steps)
            if access is not None and stored.status not in DONE_STATUSES:
                if stored.status != "sending":  # a retry after a failed attempt
                    await session.execute(SENDING, {"id": stored.id})
                pace_key = self.adapters[access.kind].pace_key(access)
                rate = access.config.get("messages_per_second") or self.default_rate
                # last: the sender's slot is one row every send takes, held until the commit
                delay = await reserve_slot(session, pace_key, rate) if pace_key else 0.0
        metrics.messages_in(answers)
        if started:
            metrics.flow_started()
        sent = SentMessage(message_id=str(stored.id), stored_at=stored.created_at.isoformat())
        if stored.status in DONE_STATUSES:
            return sent
        if stored.status == "sending" and not inserted:
            activity.logger.warning(
                "send %s: an earlier attempt stopped during the provider call; sending again "
                "(the contact may get it twice)",
                request.idempotency_key,
            )
        if access is None:
            raise ApplicationError("the channel was deleted", non_retryable=True)
        adapter = self.adapters[access.kind]
        channel_id = new_row["channel_id"]
        try:
            if needs_window and not _window_open(last_inbound):
                message = await self._outside_window(stored, access, message, last_inbound)
            if delay > 0:
                await asyncio.sleep(delay)
            provider_id = await adapter.send(access, request.contact_external_id, message)
        except PermanentSendError as err:
            await self._mark(stored.id, channel_id, "failed", None, err.record())
            metrics.send_failed(access.kind, err.code, permanent=True)
            raise ApplicationError(str(err), type="PermanentSendError", non_retryable=True) from err
        except RetryableSendError as err:
            await self._mark(stored.id, channel_id, "pending", None, err.record())
            metrics.send_failed(access.kind, err.code, permanent=False)
            raise ApplicationError(str(err), type="RetryableSendError") from err
        ended = await self._mark(stored.id, channel_id, "sent", provider_id, None, request.end)
        metrics.message_out(access.kind)
        if ended and request.end is not None:
            metrics.flow_finished(request.end.status)
        return sent

    async def _outside_window(
        self,
        stored: Row[Any],
        channel: ChannelAccess,
        message: OutboundMessage,
        last_inbound: datetime | None,
    ) -> OutboundMessage:
        """The message to send when the window is closed: the re-engagement template, once
        until the contact answers; records the substitution on the stored message."""
        if message.kind == "template":
            return message
        template: dict[str, Any] | None = channel.config.get("reengagement_template")
        if not template:
            raise PermanentSendError(
                "the contact's last message is more than 24 hours old: WhatsApp only accepts "
                "templates now; configure the channel's reengagement_template",
                "window_closed",
            )
        if await self._reengaged_since(stored, last_inbound):
            raise PermanentSendError(
                "the re-engagement template was sent; WhatsApp accepts other messages once "
                "the contact answers it",
                "window_closed",
            )
        replacement = OutboundMessage(kind="template", template=TemplateMessage(**template))
        async with self.sessions.begin() as session:
            await session.execute(
                update(Message)
                .where(Message.id == stored.id)
                .values(
                    type="template",
                    text=replacement.plain_text(),
                    content={
                        **replacement.model_dump(mode="json"),
                        "replaces": message.model_dump(mode="json"),
                    },
                )
            )
        return replacement

    async def _reengaged_since(self, stored: Row[Any], last_inbound: datetime | None) -> bool:
        """Whether a re-engagement template went out since the contact's last message."""
        query = select(Message.id).where(
            Message.conversation_id == stored.conversation_id,
            Message.id != stored.id,
            Message.direction == "outbound",
            Message.content.has_key("replaces"),
            Message.status.in_(DONE_STATUSES),
        )
        if last_inbound is not None:
            query = query.where(Message.created_at > last_inbound)
        async with self.sessions() as session:
            return await session.scalar(query.limit(1)) is not None

    def _access(self, channel_id: str, stored: Row[Any]) -> ChannelAccess | None:
        """The message's channel as `NEW_OUTBOUND` read it; None once it was deleted."""
        if stored.channel_kind is None:
            return None
        secrets = self._open(stored.secrets_encrypted) if stored.secrets_encrypted else {}
        return ChannelAccess(
            id=channel_id, kind=stored.channel_kind, config=stored.channel_config, secrets=secrets
        )

    async def _mark(
        self,
        message_id: uuid.UUID,
        channel_id: uuid.UUID,
        status: str,
        provider_id: str | None,
        error: dict[str, Any] | None,
        end: RunEnd | None = None,
    ) -> bool:
        """Store the send's result (and the run's end it carries, once sent); whether that
        ended the run."""
        async with self.sessions.begin() as session:
            if provider_id:  # `message.sent` too
                await record_sent(session, message_id, channel_id, provider_id)
            else:
                await session.execute(
                    UNSENT, {"message_id": message_id, "status": status, "error": error}
                )
                await webhook_outbox.message_event(session, message_id, status, error)
            if end is None or status != "sent":
                return False
            ended_at = datetime.now(UTC).isoformat()
            steps = [step.model_copy(update={"ended_at": ended_at}) for step in end.steps]
            _, ended = await store_run_end(session, end.model_copy(update={"steps": steps}))
            return ended


def _window_open(last_inbound: datetime | None) -> bool:
    return last_inbound is not None and datetime.now(UTC) - last_inbound < CUSTOMER_SERVICE_WINDOW
