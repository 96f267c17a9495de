"""The platform's Stripe webhook for marketplace sales: `POST /webhooks/stripe/marketplace`.

Events are verified with `BOTBUILDER_STRIPE_WEBHOOK_SECRET` (`Stripe-Signature`, through the
library's `Webhook.construct_event`) and processed once each: the event id is recorded in the
same transaction as its effect, so a redelivery answers 200 and changes nothing. A purchase
becomes paid (and gets its license key) only here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException, Request, Response

from graphql_api.http.stripe_webhook import verified_event
from services.marketplace.sales import apply_event, first_time

if TYPE_CHECKING:
    from graphql_api.platform import Platform

router = APIRouter(prefix="/webhooks/stripe", tags=["Stripe"])
REFUSED = "invalid Stripe-Signature, or not the platform's Stripe webhook"


@router.post("/marketplace", status_code=204)
async def receive(request: Request) -> Response:
    """A verified platform Stripe event: complete, renew, mark past due or cancel purchases."""
    platform: Platform = request.app.state.platform
    secret = platform.settings.stripe_webhook_secret
    payload = await request.body()
    try:
        if not secret:
            raise ValueError("no webhook secret configured")
        event_id, event_type, obj = verified_event(
            payload, request.headers.get("stripe-signature"), secret
        )
    except ValueError:
        raise HTTPException(400, REFUSED) from None
    async with platform.sessions.begin() as session:
        if await first_time(session, event_id, event_type):
            await apply_event(session, event_type, obj)
    return Response(status_code=204)
