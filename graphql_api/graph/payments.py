"""GraphQL for the payments flows asked contacts for (the `payment` node)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from graphql_api.graph.context import require_caller, transaction
from graphql_api.graph.limits import DEFAULT_PAGE_SIZE, page_size
from graphql_api.graph.types import gid
from graphql_api.ids import parse_id
from models.integration_tables import Payment as PaymentRow
from services.integrations.payments import payments_of_bot
from services.tenancy import bot_in


@strawberry.enum
class PaymentStatus(Enum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"


@strawberry.type(description="A payment a flow asked a contact for, through Stripe Checkout.")
class Payment:
    id: strawberry.ID
    bot_id: strawberry.ID
    contact_id: strawberry.ID | None
    flow_run_id: strawberry.ID | None
    amount: int | None = strawberry.field(description="In minor units (cents); none for a price.")
    currency: str | None
    description: str
    status: PaymentStatus
    stripe_session_id: str | None
    stripe_payment_intent_id: str | None
    url: str | None = strawberry.field(description="The Checkout page sent to the contact.")
    created_at: datetime
    settled_at: datetime | None

    @classmethod
    def of(cls, row: PaymentRow) -> Payment:
        return cls(
            id=gid(row.id),
            bot_id=gid(row.bot_id),
            contact_id=gid(row.contact_id) if row.contact_id else None,
            flow_run_id=gid(row.flow_run_id) if row.flow_run_id else None,
            amount=row.amount,
            currency=row.currency,
            description=row.description,
            status=PaymentStatus(row.status),
            stripe_session_id=row.stripe_session_id,
            stripe_payment_intent_id=row.stripe_payment_intent_id,
            url=row.url,
            created_at=row.created_at,
            settled_at=row.settled_at,
        )


@strawberry.type
class PaymentQuery:
    @strawberry.field(description="The bot's payments, newest first.")
    async def payments(
        self, info: Info, bot_id: strawberry.ID, first: int = DEFAULT_PAGE_SIZE, offset: int = 0
    ) -> list[Payment]:
        caller = await require_caller(info)
        async with transaction(info) as session:
            bot = await bot_in(session, caller.organization_id, parse_id(bot_id, "bot"))
            rows = await payments_of_bot(session, bot.id, page_size(first), max(offset, 0))
        return [Payment.of(row) for row in rows]
