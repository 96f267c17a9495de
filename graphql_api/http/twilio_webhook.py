"""The Twilio webhooks of a channel: inbound messages and status callbacks, signed by Twilio."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request, Response

from channels.config import webhook_urls
from channels.twilio.webhook import parse_inbound, parse_status, signature_valid
from graphql_api.http.active_channels import StoredChannel
from graphql_api.http.ingress import active_channel, channel_access, deliver_all, record_statuses

router = APIRouter(prefix="/channels/twilio", tags=["Twilio channel"])
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


async def signed_form(request: Request, channel: StoredChannel, purpose: str) -> dict[str, str]:
    """The POST fields, once `X-Twilio-Signature` matches the channel's public URL; else 401."""
    settings = request.app.state.platform.settings
    url = webhook_urls(settings.resolved_public_url(), "twilio", str(channel.id))[purpose]
    form = dict(parse_qsl((await request.body()).decode(errors="replace"), keep_blank_values=True))
    token = channel_access(request, channel).secrets["auth_token"]
    if not signature_valid(token, url, form, request.headers.get("x-twilio-signature", "")):
        raise HTTPException(401, "invalid or missing X-Twilio-Signature")
    return form


@router.post("/{channel_id}/webhook")
async def receive(channel_id: str, request: Request) -> Response:
    """An inbound WhatsApp or SMS message: answered (empty TwiML) once it is with Temporal."""
    channel = await active_channel(request, channel_id, "twilio")
    form = await signed_form(request, channel, "webhook")
    try:
        parsed = parse_inbound(form)
    except (KeyError, ValueError) as err:
        raise HTTPException(400, f"not a Twilio message webhook: missing or bad {err}") from err
    await deliver_all(request, channel, parsed.messages)
    return Response(EMPTY_TWIML, media_type="text/xml")


@router.post("/{channel_id}/status", status_code=204)
async def status(channel_id: str, request: Request) -> Response:
    """A status callback (`sent`, `delivered`, `read`, `undelivered`, `failed`)."""
    channel = await active_channel(request, channel_id, "twilio")
    form = await signed_form(request, channel, "status_callback")
    try:
        report = parse_status(form)
    except KeyError as err:
        raise HTTPException(400, f"not a Twilio status callback: missing {err}") from err
    if report is not None:
        await record_statuses(request, channel, [report])
    return Response(status_code=204)
