"""Payments: what a verified Stripe event changes, and the payments an organization can read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.integration_tables import Payment

# Stripe event type -> the payment's new status (checkout.session.completed: see `settled`).
FINAL_STATUSES = {
    "checkout.session.completed": "paid",
    "checkout.session.async_payment_succeeded": "paid",
    "checkout.session.async_payment_failed": "failed",
    "checkout.session.expired": "expired",
    "payment_intent.payment_failed": "failed",
}


def settled(event_type: str, obj: dict[str, Any]) -> str | None:
    """The status an event settles its payment in; None when it settles nothing (a completed
    Checkout whose delayed payment method has not paid yet, or an event type we ignore)."""
    if event_type == "checkout.session.completed" and obj.get("payment_status") == "unpaid":
        return None
    return FINAL_STATUSES.get(event_type)


async def apply_stripe_event(
    session: AsyncSession, organization_id: uuid.UUID, event_type: str, obj: dict[str, Any]
) -> Payment | None:
    """Settle the organization's pending payment the event names; the payment when this event
    changed it, None when it changed nothing (unknown payment, ignored type, a duplicate)."""
    status = settled(event_type, obj)
    try:
        payment_id = uuid.UUID(str((obj.get("metadata") or {}).get("payment_id")))
    except ValueError:
        return None
    if status is None:
        return None
    is_intent = obj.get("object") == "payment_intent"
    intent = obj.get("id") if is_intent else obj.get("payment_intent")
    changed = await session.scalar(
        update(Payment)
        .where(
            Payment.id == payment_id,
            Payment.organization_id == organization_id,
            Payment.status == "pending",
        )
        .values(
            status=status,
            settled_at=datetime.now(UTC),
            stripe_payment_intent_id=func.coalesce(
                literal(intent if isinstance(intent, str) else None),
                Payment.stripe_payment_intent_id,
            ),
        )
        .returning(Payment)
    )
    return changed


async def payments_of_bot(
    session: AsyncSession, bot_id: uuid.UUID, limit: int, offset: int
) -> list[Payment]:
    """The bot's payments, newest first."""
    rows = await session.scalars(
        select(Payment)
        .where(Payment.bot_id == bot_id)
        .order_by(Payment.created_at.desc(), Payment.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows)
