"""Stripe's webhook for an organization's payments: `POST /webhooks/stripe/{organization_id}`.

Each event is verified with the organization's signing secret (`Stripe-Signature`, through the
library's `Webhook.construct_event`, which also refuses events older than 5 minutes). A payment
settles once: its row changes only while pending, and only then is its flow run told. Anything
unverifiable answers 400 and changes nothing.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

import stripe
from fastapi import APIRouter, HTTPException, Request, Response
from temporalio.service import RPCError, RPCStatusCode

from models.payloads.integrations import PaymentOutcome
from models.secret_box import SecretBox
from services.integrations.credentials import IntegrationMissing, credentials_for_organization
from services.integrations.payments import apply_stripe_event
from services.webhooks import outbox as webhook_outbox
from workflows.run_client import signal_payment_settled

if TYPE_CHECKING:
    from graphql_api.platform import Platform

router = APIRouter(prefix="/webhooks/stripe", tags=["Stripe"])
logger = logging.getLogger(__name__)
REFUSED = "invalid Stripe-Signature, or not this organization's Stripe webhook"


@router.post("/{organization_id}", status_code=204)
async def receive(organization_id: str, request: Request) -> Response:
    """A Stripe event: settle the payment it names and tell the waiting flow run."""
    platform: Platform = request.app.state.platform
    payload = await request.body()
    box = SecretBox(platform.settings.resolved_secret_key())
    async with platform.sessions.begin() as session:
        try:
            org = uuid.UUID(organization_id)
            _, secrets = await credentials_for_organization(session, box, org, "stripe")
            _, event_type, obj = verified_event(
                payload, request.headers.get("stripe-signature"), secrets["webhook_secret"]
            )
        except (ValueError, KeyError, IntegrationMissing):
            raise HTTPException(400, REFUSED) from None
        payment = await apply_stripe_event(session, org, event_type, obj)
        if payment is not None:  # tell the run before committing: a failure makes Stripe retry
            await webhook_outbox.payment_event(session, payment)
            outcome = PaymentOutcome(payment_id=str(payment.id), status=payment.status)
            await tell_run(platform, payment.run_workflow_id, outcome)
    return Response(status_code=204)


def verified_event(payload: bytes, header: str | None, secret: str) -> tuple[str, str, Any]:
    """(id, type, data.object) of a Stripe event signed with `secret` within Stripe's 5-minute
    tolerance; ValueError for anything else."""
    try:
        stripe.Webhook.construct_event(payload, header, secret)
        event = json.loads(payload)
        return event["id"], event["type"], event["data"]["object"]
    except (KeyError, TypeError, stripe.SignatureVerificationError) as err:
        raise ValueError(f"not a verified Stripe event: {err}") from err


async def tell_run(platform: Platform, workflow_id: str, outcome: PaymentOutcome) -> None:
    """Signal the flow run; one that already ended (e.g. it timed out) has nothing to do."""
    client = await platform.temporal()
    try:
        await signal_payment_settled(client, workflow_id, outcome)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        logger.info("payment %s settled after its run %s ended", outcome.payment_id, workflow_id)
