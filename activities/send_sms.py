"""The `send_sms` activity of the `sms` node: one text through the organization's Twilio account.

Uses the official `twilio` client against `twilio_api_url`. Twilio's error codes map to retry or
failure exactly as the Twilio channel maps them (`channels.twilio.adapter.twilio_error`). Twilio
reports delivery to the organization's SMS status URL (`graphql_api.http.sms_status`).
"""

from __future__ import annotations

from typing import Any

from temporalio import activity
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from activities.integration_base import IntegrationActivities, permanent, retryable
from channels.base import RetryableSendError
from channels.twilio.adapter import twilio_error
from models.integration_config import TwilioSmsConfig, sms_status_url
from models.payloads import activity_names
from models.payloads.integrations import SmsRequest, SmsSent
from services.integrations.credentials import organization_of_bot


class SmsSender(IntegrationActivities):
    kind = "twilio_sms"

    @activity.defn(name=activity_names.SEND_SMS)
    async def send_sms(self, request: SmsRequest) -> SmsSent:
        """Send the text; Twilio's message SID and first status."""
        config, secrets = await self.credentials(request.bot_id)
        twilio = TwilioSmsConfig.model_validate(config)
        async with self.sessions() as session:
            organization_id = await organization_of_bot(session, request.bot_id)
        callback = sms_status_url(self.settings.resolved_public_url(), str(organization_id))
        sender: dict[str, Any] = (
            {"messaging_service_sid": twilio.messaging_service_sid}
            if twilio.messaging_service_sid
            else {"from_": twilio.from_number}
        )
        client = Client(
            twilio.account_sid,
            secrets["auth_token"],
            http_client=AsyncTwilioHttpClient(pool_connections=False),
        )
        client.api.base_url = self.settings.twilio_api_url
        try:
            created = await client.messages.create_async(
                to=request.to, body=request.body, status_callback=callback, **sender
            )
        except (TwilioRestException, TwilioServiceException) as err:
            error = twilio_error(err)
            temporary = isinstance(error, RetryableSendError)
            raise (retryable(str(error)) if temporary else permanent(str(error))) from err
        except OSError as err:
            raise retryable(f"Twilio unreachable: {err!r}") from err
        return SmsSent(sid=created.sid or "", status=str(created.status or ""))
