"""What every channel's ingress shares: finding the channel, handing messages to Temporal,
and recording delivery reports."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from fastapi import HTTPException, Request
from temporalio.service import RPCError

from channels.base import ChannelAccess, InboundDelivery, StatusUpdate
from graphql_api.http.active_channels import StoredChannel
from models.payloads.engine import ContactRef
from services.conversations.delivery_statuses import record_status
from workflows.conversation_client import signal_conversation

CHANNEL_NAMES = {"web": "web", "whatsapp_cloud": "WhatsApp", "twilio": "Twilio"}


async def active_channel(request: Request, channel_id: str, kind: str) -> StoredChannel:
    """The active channel of this kind with this id, or 404."""
    not_found = HTTPException(404, f"no such {CHANNEL_NAMES[kind]} channel")
    try:
        key = uuid.UUID(channel_id)
    except ValueError:
        raise not_found from None
    channel = await request.app.state.platform.active_channels.get(key, kind)
    if channel is None:
        raise not_found
    return channel


def channel_access(request: Request, channel: StoredChannel) -> ChannelAccess:
    """The channel with its secrets decrypted, for verifying and answering its provider."""
    platform = request.app.state.platform
    secrets = platform.open_secrets(channel.secrets_encrypted) if channel.secrets_encrypted else {}
    return ChannelAccess(
        id=str(channel.id), kind=channel.kind, config=channel.config, secrets=secrets
    )


async def deliver(request: Request, channel: StoredChannel, delivery: InboundDelivery) -> str:
    """Signal-with-start the contact's conversation; returns once Temporal holds the message.

    The conversation workflow stores each provider message id once, so a repeated or
    concurrent delivery of the same message is harmless. The message is stamped with when it
    arrived: it can only answer a question sent before that. Temporal unreachable: 503.
    """
    platform = request.app.state.platform
    contact = ContactRef(external_id=delivery.contact_id, name=delivery.contact_name)
    message = delivery.message.model_copy(update={"received_at": datetime.now(UTC).isoformat()})
    try:
        return await signal_conversation(
            await platform.temporal(),
            platform.settings.task_queue,
            str(channel.bot_id),
            str(channel.id),
            channel.kind,
            contact,
            "inbound",
            message,
        )
    except (RPCError, RuntimeError, OSError) as err:
        raise HTTPException(503, f"the conversation engine is unavailable ({err}); retry") from err


async def deliver_all(
    request: Request, channel: StoredChannel, deliveries: list[InboundDelivery]
) -> None:
    """Deliver in the provider's order (a contact's messages keep their order)."""
    for delivery in deliveries:
        await deliver(request, channel, delivery)


async def record_statuses(
    request: Request, channel: StoredChannel, reports: Iterable[StatusUpdate]
) -> None:
    """Apply delivery reports to the stored messages (they never move backwards)."""
    async with request.app.state.platform.sessions.begin() as session:
        for report in reports:
            await record_status(session, channel.id, report)
