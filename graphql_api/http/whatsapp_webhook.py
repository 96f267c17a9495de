"""The WhatsApp Cloud API webhook of a channel: Meta's GET handshake and signed POST events."""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ValidationError

from channels.base import ChannelAccess, SendError
from channels.whatsapp_cloud.adapter import WhatsAppCloudChannel
from channels.whatsapp_cloud.webhook import handshake_challenge, parse_webhook, signature_valid
from graphql_api.http.ingress import active_channel, channel_access, deliver_all, record_statuses

log = logging.getLogger(__name__)
router = APIRouter(prefix="/channels/whatsapp", tags=["WhatsApp channel"])


class WebhookAccepted(BaseModel):
    messages: int
    statuses: int


@router.get("/{channel_id}/webhook", response_class=PlainTextResponse)
async def verify(channel_id: str, request: Request) -> str:
    """Meta subscribes the URL: echo `hub.challenge` when `hub.verify_token` is ours, else 403."""
    channel = channel_access(request, await active_channel(request, channel_id, "whatsapp_cloud"))
    challenge = handshake_challenge(dict(request.query_params), channel.secrets["verify_token"])
    if challenge is None:
        raise HTTPException(403, "verification refused: wrong hub.verify_token or hub.mode")
    return challenge


@router.post("/{channel_id}/webhook", response_model=WebhookAccepted)
async def receive(channel_id: str, request: Request, tasks: BackgroundTasks) -> WebhookAccepted:
    """Messages and statuses, signed with the app secret. 200 once every message is with
    Temporal and every status is stored; 401 (nothing kept) when the signature is wrong."""
    stored = await active_channel(request, channel_id, "whatsapp_cloud")
    channel = channel_access(request, stored)
    raw = await request.body()
    signature = request.headers.get("x-hub-signature-256")
    if not signature_valid(channel.secrets["app_secret"], raw, signature):
        raise HTTPException(401, "invalid or missing X-Hub-Signature-256")
    adapter = WhatsAppCloudChannel(request.app.state.platform.settings)
    try:
        payload = json.loads(raw)
        parsed = parse_webhook(payload, channel.config["phone_number_id"], adapter.media_root())
    except RecursionError:
        raise HTTPException(400, "not a WhatsApp webhook payload: nested too deeply") from None
    except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as err:
        raise HTTPException(400, f"not a WhatsApp webhook payload: {err!r}") from err
    await deliver_all(request, stored, parsed.messages)
    await record_statuses(request, stored, parsed.statuses)
    for delivery in parsed.messages:
        tasks.add_task(mark_read, adapter, channel, delivery.message.provider_message_id)
    return WebhookAccepted(messages=len(parsed.messages), statuses=len(parsed.statuses))


async def mark_read(adapter: WhatsAppCloudChannel, channel: ChannelAccess, message_id: str) -> None:
    """Blue ticks for the contact; best effort (a failure is logged, the message is safe)."""
    try:
        await adapter.mark_read(channel, message_id)
    except SendError as err:
        log.warning("could not mark WhatsApp message %s as read: %s", message_id, err)
