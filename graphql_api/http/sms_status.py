"""Twilio's status callbacks for the `sms` node: `POST /webhooks/twilio-sms/{org id}/status`.

Signed by Twilio (`X-Twilio-Signature`, with the organization's `TWILIO_SMS` auth token over this
URL); the status lands on the output of the step that sent the message. Unverifiable: 401.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request, Response

from channels.twilio.webhook import parse_status, signature_valid
from models.integration_config import sms_status_url
from models.secret_box import SecretBox
from services.integrations.credentials import (
    IntegrationMissing,
    credentials_for_organization,
    record_sms_status,
)

if TYPE_CHECKING:
    from graphql_api.platform import Platform

router = APIRouter(prefix="/webhooks/twilio-sms", tags=["SMS"])
REFUSED = "invalid or missing X-Twilio-Signature"


@router.post("/{organization_id}/status", status_code=204)
async def status(organization_id: str, request: Request) -> Response:
    """A delivery report (`sent`, `delivered`, `undelivered`, `failed`) for an `sms` step."""
    platform: Platform = request.app.state.platform
    form = dict(parse_qsl((await request.body()).decode(errors="replace"), keep_blank_values=True))
    url = sms_status_url(platform.settings.resolved_public_url(), organization_id)
    box = SecretBox(platform.settings.resolved_secret_key())
    async with platform.sessions.begin() as session:
        try:
            org = uuid.UUID(organization_id)
            _, secrets = await credentials_for_organization(session, box, org, "twilio_sms")
        except (ValueError, IntegrationMissing):
            raise HTTPException(401, REFUSED) from None
        signature = request.headers.get("x-twilio-signature", "")
        if not signature_valid(secrets["auth_token"], url, form, signature):
            raise HTTPException(401, REFUSED)
        try:
            report = parse_status(form)
        except KeyError as err:
            raise HTTPException(400, f"not a Twilio status callback: missing {err}") from err
        if report is not None:
            await record_sms_status(
                session, org, report.provider_message_id, report.status, report.error
            )
    return Response(status_code=204)
