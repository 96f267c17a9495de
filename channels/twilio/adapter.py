"""`TwilioChannel`: WhatsApp or SMS through the official `twilio` client (Messages API)."""

from __future__ import annotations

import json
from typing import Any

from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from channels.base import ChannelAccess, PermanentSendError, RetryableSendError, SendError
from channels.config import webhook_urls
from models.messages import OutboundMessage
from models.settings import Settings

# Too many requests, WhatsApp rate limit, queue full.
RETRYABLE_CODES = {20429, 63018, 30001}
WINDOW_CLOSED_CODE = 63016


class TwilioChannel:
    """Twilio Messages API. Options become numbered text (no content template needed); a
    template message is sent as the Content SID (`HX...`) named by the template."""

    def __init__(self, settings: Settings) -> None:
        self.api_url = settings.twilio_api_url
        self.public_url = settings.resolved_public_url()

    async def send(self, channel: ChannelAccess, to: str, message: OutboundMessage) -> str | None:
        sender: str = channel.config["from_number"]
        whatsapp = sender.startswith("whatsapp:")
        fields: dict[str, Any] = {
            "to": f"whatsapp:{to}" if whatsapp else to,
            "from_": sender,
            "status_callback": webhook_urls(self.public_url, "twilio", channel.id)[
                "status_callback"
            ],
            **_content(message, whatsapp),
        }
        client = Client(
            channel.config["account_sid"],
            channel.secrets["auth_token"],
            http_client=AsyncTwilioHttpClient(pool_connections=False),
        )
        client.api.base_url = self.api_url
        try:
            created = await client.messages.create_async(**fields)
        except (TwilioRestException, TwilioServiceException) as err:
            raise twilio_error(err) from err
        except OSError as err:
            raise RetryableSendError(f"Twilio unreachable: {err!r}") from err
        return created.sid

    def pace_key(self, channel: ChannelAccess) -> str | None:
        return f"twilio:{channel.config['from_number']}"

    def needs_open_window(self, channel: ChannelAccess) -> bool:
        return str(channel.config["from_number"]).startswith("whatsapp:")


def _content(message: OutboundMessage, whatsapp: bool) -> dict[str, Any]:
    if message.kind == "media" and message.media:
        return {"media_url": [message.media.url], "body": message.media.caption}
    if message.kind == "location" and message.location and whatsapp:
        place = message.location
        label = place.name or place.address or ""
        action = f"geo:{place.latitude},{place.longitude}|{label}"
        return {"body": message.plain_text(), "persistent_action": [action]}
    if message.kind == "template" and message.template:
        template = message.template
        if template.name.startswith("HX"):
            variables = {str(n): value for n, value in enumerate(template.parameters, start=1)}
            return {"content_sid": template.name, "content_variables": json.dumps(variables)}
        if whatsapp:
            raise PermanentSendError(
                f"template {template.name!r}: Twilio WhatsApp templates are Content SIDs (HX...)",
                "template_not_found",
            )
    return {"body": message.plain_text()}


def twilio_error(err: TwilioRestException | TwilioServiceException) -> SendError:
    """Twilio's `{"code", "message", "status"}` as a retryable or permanent error."""
    code, status = err.code, int(err.status or 0)
    text = f"Twilio error {code}: {getattr(err, 'msg', None) or getattr(err, 'title', '')}"
    if code == WINDOW_CLOSED_CODE:
        return PermanentSendError(f"{text} (outside the 24-hour customer-service window)", code)
    if code in RETRYABLE_CODES or status == 429 or status >= 500:
        return RetryableSendError(text, code or status)
    return PermanentSendError(text, code or status)
