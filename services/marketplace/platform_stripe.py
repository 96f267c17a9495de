"""The platform's own Stripe account (marketplace sales), through the official client against
`stripe_api_url`: Checkout Sessions for purchases and refunds of their payments."""

from __future__ import annotations

import stripe

from models.errors import DomainError
from models.marketplace_tables import Listing, Purchase
from models.settings import Settings


class PaymentProviderError(DomainError):
    """Stripe refused or could not be reached; nothing was charged."""

    code = "PAYMENT_PROVIDER_ERROR"


def platform_client(settings: Settings) -> stripe.StripeClient:
    if not settings.stripe_secret_key:
        raise PaymentProviderError(
            "paid listings cannot be bought: the platform has no Stripe key "
            "(BOTBUILDER_STRIPE_SECRET_KEY)"
        )
    return stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses={"api": settings.stripe_api_url},
        http_client=stripe.HTTPXClient(timeout=20),
        max_network_retries=2,
    )


def checkout_params(settings: Settings, listing: Listing, purchase: Purchase) -> dict:
    """A Checkout Session selling the listing once or by subscription, naming the purchase."""
    price_data: dict = {
        "currency": purchase.currency,
        "unit_amount": purchase.amount_minor,
        "product_data": {"name": listing.title},
    }
    metadata = {"purchase_id": str(purchase.id), "listing_id": str(listing.id)}
    back = settings.marketplace_return_url or f"{settings.resolved_public_url()}/marketplace"
    params: dict = {
        "line_items": [{"quantity": 1, "price_data": price_data}],
        "metadata": metadata,
        "client_reference_id": str(purchase.id),
        "success_url": f"{back}?purchase={purchase.id}",
        "cancel_url": f"{back}?purchase={purchase.id}&cancelled=1",
    }
    if purchase.pricing_model == "subscription":
        price_data["recurring"] = {"interval": listing.billing_interval}
        subscription: dict = {"metadata": metadata}
        if listing.trial_days:
            subscription["trial_period_days"] = listing.trial_days
        return params | {"mode": "subscription", "subscription_data": subscription}
    return params | {"mode": "payment", "payment_intent_data": {"metadata": metadata}}


async def create_checkout(
    settings: Settings, listing: Listing, purchase: Purchase
) -> tuple[str, str]:
    """(session id, URL) of the purchase's Checkout page; its idempotency key makes a retry
    get the same session."""
    try:
        session = await platform_client(settings).v1.checkout.sessions.create_async(
            params=checkout_params(settings, listing, purchase),
            options={"idempotency_key": purchase.idempotency_key},
        )
    except stripe.StripeError as err:
        raise PaymentProviderError(
            f"Stripe refused the checkout: {err.user_message or err}"
        ) from err
    return session.id, session.url or ""


async def refund(settings: Settings, purchase: Purchase) -> str:
    """Refund the purchase's payment in full; the refund's id."""
    if not purchase.stripe_payment_intent_id:
        raise PaymentProviderError("this purchase has no Stripe payment to refund")
    try:
        result = await platform_client(settings).v1.refunds.create_async(
            params={"payment_intent": purchase.stripe_payment_intent_id},
            options={"idempotency_key": f"refund-{purchase.id}"},
        )
    except stripe.StripeError as err:
        raise PaymentProviderError(f"Stripe refused the refund: {err.user_message or err}") from err
    return result.id
