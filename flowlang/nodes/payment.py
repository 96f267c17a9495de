"""The `payment` node: ask the contact to pay through Stripe Checkout and wait for the outcome.

It creates a Checkout Session for `amount` (minor units: 1999 is 19.99) of `currency` with a
`description`, or for a Stripe `priceId` × `quantity`; sends `message` followed by the link; then
waits durably (up to `timeoutMinutes`) for Stripe's webhook and leaves by `paid`, `failed`
(payment failed or session expired) or `timeout`. On timeout the Checkout page is closed, so no
one pays a flow that gave up; if Stripe says it was paid meanwhile, the node leaves by `paid`.
When the session cannot be created it leaves by `error`. Under the node id the flow finds
`{"payment_id", "url", "status", "error"}`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Self

from pydantic import Field, model_validator

from flowlang.integration_steps import IntegrationData, failed_step
from flowlang.node_base import ERROR, NodeFailed, NodeType, RunContext, Template, always
from models.messages import OutboundMessage
from models.payloads.activity_names import CREATE_PAYMENT, EXPIRE_PAYMENT
from models.payloads.integrations import PaymentExpiry, PaymentLink, PaymentOutcome, PaymentRequest

PAID, FAILED, TIMEOUT = "paid", "failed", "timeout"


class PaymentData(IntegrationData):
    amount: int | Template | None = Field(default=None, description="Minor units, e.g. cents.")
    currency: str | None = Field(default=None, pattern=r"^[a-zA-Z]{3}$")
    description: Template = ""
    price_id: str | None = Field(default=None, pattern=r"^price_[A-Za-z0-9]+$")
    quantity: int = Field(default=1, ge=1, le=1000)
    message: Template = "Puedes pagar aquí:"
    timeout_minutes: int = Field(default=60, ge=1, le=24 * 60)

    @model_validator(mode="after")
    def _something_to_pay(self) -> Self:
        if self.price_id is None and (self.amount is None or not self.currency):
            raise ValueError("give amount and currency, or a Stripe priceId")
        if isinstance(self.amount, int) and self.amount < 1:
            raise ValueError("amount must be at least 1 (in minor units)")
        return self


async def run(ctx: RunContext, data: PaymentData) -> str:
    try:
        request = PaymentRequest(
            amount=None if data.price_id else _amount(ctx, data.amount),
            currency=data.currency.lower() if data.currency else None,
            description=ctx.render(data.description),
            price_id=data.price_id,
            quantity=data.quantity,
            open_minutes=data.timeout_minutes,
            timeout_seconds=data.timeout_seconds,
            retries=data.retry_attempts,
        )
        link = await ctx.integration(
            CREATE_PAYMENT, request, PaymentLink, "the payment could not be created"
        )
    except NodeFailed as failed:
        return await failed_step(ctx, data, str(failed))
    details: dict[str, Any] = {"payment_id": link.payment_id, "url": link.url, "error": None}
    ctx.variables[ctx.node_id] = {**details, "status": "pending"}
    await ctx.send(OutboundMessage(kind="text", text=f"{ctx.render(data.message)}\n{link.url}"))
    status = await ctx.wait_for_payment(link.payment_id, timedelta(minutes=data.timeout_minutes))
    if status is None:
        status = await _close(ctx, data, link.payment_id)
        timed_out = status != "paid"
    else:
        timed_out = False
    ctx.variables[ctx.node_id] = {**details, "status": status}
    if timed_out:
        return TIMEOUT
    return PAID if status == "paid" else FAILED


async def _close(ctx: RunContext, data: PaymentData, payment_id: str) -> str:
    """Expire the Checkout page; the payment's status then (`paid` if Stripe was quicker)."""
    expiry = PaymentExpiry(
        payment_id=payment_id, timeout_seconds=data.timeout_seconds, retries=data.retry_attempts
    )
    try:
        outcome = await ctx.integration(
            EXPIRE_PAYMENT, expiry, PaymentOutcome, "the Checkout page could not be closed"
        )
    except NodeFailed:
        return "pending"  # Stripe closes it at its expiry time anyway
    return outcome.status


def _amount(ctx: RunContext, amount: int | str | None) -> int:
    """The amount in minor units; a template must fill in to a positive whole number."""
    text = ctx.render(amount) if isinstance(amount, str) else str(amount)
    if not text.strip().isdigit() or int(text) < 1:
        raise NodeFailed(f"the amount {text!r} is not a positive whole number of minor units")
    return int(text)


PAYMENT = NodeType(
    type="payment",
    data_model=PaymentData,
    handles=lambda _: [PAID, FAILED, TIMEOUT, ERROR],
    required_handles=lambda _: [PAID],
    waits=always,
    run=run,
)
