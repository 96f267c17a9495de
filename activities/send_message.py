"""The `send_message` activity: store an outbound message once, then send it via its channel."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.conversation_store import notify_message
from channels.base import PermanentSendError
from channels.registry import adapter_for
from models.conversation_tables import Message
from models.engine import SendRequest
from models.secret_box import SecretBox
from models.tables import Channel
from workflows import activity_names

DONE_STATUSES = ("sent", "delivered", "read")


class MessageSender:
    """Sends through the channel adapter; the idempotency key makes a retry never send twice."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], secret_box: SecretBox) -> None:
        self.sessions = sessions
        self.secret_box = secret_box

    @activity.defn(name=activity_names.SEND_MESSAGE)
    async def send_message(self, request: SendRequest) -> str:
        """Returns the stored message id."""
        message = request.message
        agent = uuid.UUID(request.sent_by_user_id) if request.sent_by_user_id else None
        async with self.sessions.begin() as session:
            await session.execute(
                insert(Message)
                .values(conversation_id=uuid.UUID(request.conversation_id),
                        channel_id=uuid.UUID(request.channel_id), direction="outbound",
                        type=message.kind, content=message.model_dump(mode="json"),
                        text=message.plain_text(), status="pending",
                        idempotency_key=request.idempotency_key,
                        sent_by_user_id=agent)
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
            )  # fmt: skip
            stored = await session.scalar(
                select(Message).where(Message.idempotency_key == request.idempotency_key)
            )
            channel = await session.get(Channel, uuid.UUID(request.channel_id))
        assert stored is not None
        if stored.status in DONE_STATUSES:
            return str(stored.id)
        if channel is None:
            raise ApplicationError("the channel was deleted", non_retryable=True)
        secrets: dict[str, Any] = (
            self.secret_box.decrypt(channel.secrets_encrypted) if channel.secrets_encrypted else {}
        )
        try:
            provider_id = await adapter_for(channel.kind).send(
                request.contact_external_id, message, channel.config, secrets
            )
        except PermanentSendError as err:
            await self._mark(stored.id, request.conversation_id, "failed", None, str(err))
            raise ApplicationError(str(err), type="PermanentSendError", non_retryable=True) from err
        await self._mark(stored.id, request.conversation_id, "sent", provider_id, None)
        return str(stored.id)

    async def _mark(
        self, message_id: uuid.UUID, conversation_id: str, status: str,
        provider_id: str | None, error: str | None,
    ) -> None:  # fmt: skip
        async with self.sessions.begin() as session:
            await session.execute(
                update(Message)
                .where(Message.id == message_id)
                .values(status=status, provider_message_id=provider_id,
                        status_updated_at=func.now(),
                        error={"message": error} if error else None)
            )  # fmt: skip
            await notify_message(session, conversation_id)
