"""The `create_payment` and `expire_payment` activities of the `payment` node: a stored payment
and its Stripe Checkout Session, through the official `stripe` client against `stripe_api_url`.

The payment row is keyed by the run and step, and the session is created with that key as
Stripe's idempotency key, so a retried attempt finds the same row and the same session. Rate
limits, network errors and Stripe's 5xx are retried; any other Stripe error fails for good.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import stripe
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.integration_base import IntegrationActivities, permanent, retryable
from models.integration_config import StripeConfig
from models.integration_tables import Payment
from models.payloads import activity_names
from models.payloads.integrations import PaymentExpiry, PaymentLink, PaymentOutcome, PaymentRequest
from services.integrations.credentials import organization_of_bot

MIN_OPEN_MINUTES, MAX_OPEN_MINUTES = 30, 24 * 60  # what Stripe allows for `expires_at`


class PaymentCreator(IntegrationActivities):
    kind = "stripe"
    _http: stripe.HTTPXClient | None = None

    @activity.defn(name=activity_names.CREATE_PAYMENT)
    async def create_payment(self, request: PaymentRequest) -> PaymentLink:
        """The Checkout page for the payment (created once per run and step)."""
        config, secrets = await self.credentials(request.bot_id)
        payment = await self._stored(request)
        if payment.stripe_session_id and payment.url:
            return PaymentLink(
                payment_id=str(payment.id), url=payment.url, session_id=payment.stripe_session_id
            )
        try:
            session = await self.stripe(secrets).v1.checkout.sessions.create_async(
                params=checkout_params(request, StripeConfig.model_validate(config), payment.id),
                options={"idempotency_key": request.idempotency_key},
            )
        except stripe.StripeError as err:
            raise classify(err) from err
        async with self.sessions.begin() as db:
            await db.execute(
                update(Payment)
                .where(Payment.id == payment.id)
                .values(
                    stripe_session_id=session.id,
                    url=session.url,
                    stripe_payment_intent_id=_id_of(session.payment_intent),
                )
            )
        return PaymentLink(payment_id=str(payment.id), url=session.url or "", session_id=session.id)

    @activity.defn(name=activity_names.EXPIRE_PAYMENT)
    async def expire_payment(self, request: PaymentExpiry) -> PaymentOutcome:
        """Close the Checkout page of a payment nobody paid in time. When Stripe says it was
        paid meanwhile (the session is complete), the payment is `paid` after all."""
        _, secrets = await self.credentials(request.bot_id)
        async with self.sessions() as db:
            payment = await db.get(Payment, uuid.UUID(request.payment_id))
        if payment is None or payment.status != "pending" or not payment.stripe_session_id:
            status = payment.status if payment else "expired"
            return PaymentOutcome(payment_id=request.payment_id, status=status)
        client = self.stripe(secrets)
        try:
            try:
                await client.v1.checkout.sessions.expire_async(payment.stripe_session_id)
                status = "expired"
            except stripe.InvalidRequestError:  # no longer open: completed or already expired
                session = await client.v1.checkout.sessions.retrieve_async(
                    payment.stripe_session_id
                )
                status = "paid" if session.payment_status == "paid" else "expired"
        except stripe.StripeError as err:
            raise classify(err) from err
        async with self.sessions.begin() as db:
            await db.execute(
                update(Payment)
                .where(Payment.id == payment.id, Payment.status == "pending")
                .values(status=status, settled_at=func.now())
            )
            current = await db.scalar(select(Payment.status).where(Payment.id == payment.id))
        return PaymentOutcome(payment_id=request.payment_id, status=current or status)

    def activities(self) -> list[Any]:
        return [self.create_payment, self.expire_payment]

    def stripe(self, secrets: dict[str, Any]) -> stripe.StripeClient:
        return stripe.StripeClient(
            secrets["secret_key"],
            base_addresses={"api": self.settings.stripe_api_url},
            http_client=self.http_client(),
            max_network_retries=0,
        )

    def http_client(self) -> stripe.HTTPXClient:
        if self._http is None:
            self._http = stripe.HTTPXClient(timeout=20)
        return self._http

    async def _stored(self, request: PaymentRequest) -> Payment:
        """The payment row of this run and step, inserted on the first attempt."""
        async with self.sessions.begin() as db:
            organization_id = await organization_of_bot(db, request.bot_id)
            await db.execute(
                insert(Payment)
                .values(
                    organization_id=organization_id,
                    bot_id=uuid.UUID(request.bot_id),
                    contact_id=uuid.UUID(request.contact_id) if request.contact_id else None,
                    flow_run_id=uuid.UUID(request.flow_run_id) if request.flow_run_id else None,
                    run_workflow_id=request.run_workflow_id,
                    idempotency_key=request.idempotency_key,
                    amount=request.amount,
                    currency=request.currency,
                    description=request.description,
                )
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
            )
            payment = await db.scalar(
                select(Payment).where(Payment.idempotency_key == request.idempotency_key)
            )
        assert payment is not None
        return payment


def checkout_params(request: PaymentRequest, config: StripeConfig, payment_id: uuid.UUID) -> dict:
    """A one-off Checkout Session whose session and payment intent both name the payment."""
    if request.price_id:
        item: dict = {"price": request.price_id, "quantity": request.quantity}
    else:
        item = {
            "quantity": request.quantity,
            "price_data": {
                "currency": request.currency,
                "unit_amount": request.amount,
                "product_data": {"name": request.description or "Payment"},
            },
        }
    metadata = {"payment_id": str(payment_id)}
    minutes = min(max(request.open_minutes, MIN_OPEN_MINUTES), MAX_OPEN_MINUTES)
    params: dict = {
        "mode": "payment",
        "line_items": [item],
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "client_reference_id": str(payment_id),
        "success_url": config.success_url,
        "expires_at": int(time.time()) + minutes * 60,
    }
    if config.cancel_url:
        params["cancel_url"] = config.cancel_url
    return params


def classify(err: stripe.StripeError) -> ApplicationError:
    """Rate limits, network trouble and 5xx are temporary; other refusals are final."""
    status = err.http_status or 0
    message = f"Stripe answered {status or 'nothing'}: {err.user_message or err}"
    if isinstance(err, stripe.RateLimitError | stripe.APIConnectionError) or status >= 500:
        return retryable(message)
    return permanent(message)


def _id_of(value: object) -> str | None:
    """An expandable Stripe field: an id, an object with an id, or nothing."""
    if value is None or isinstance(value, str):
        return value
    return getattr(value, "id", None)
