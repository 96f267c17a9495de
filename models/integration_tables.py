"""Tables of the integrations: each organization's credentials per kind, and payments."""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, ForeignKey, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.columns import (
    CreatedAt,
    JSONObject,
    OptionalTimestamp,
    UpdatedAt,
    UUIDPrimaryKey,
    cascade_to,
    one_of,
)
from models.db import Base
from models.integration_config import INTEGRATION_KINDS

PAYMENT_STATUSES = ("pending", "paid", "failed", "expired")


class IntegrationCredential(Base):
    """One organization's settings for one integration kind; secrets sealed, never returned."""

    __tablename__ = "integration_credentials"
    __table_args__ = (
        UniqueConstraint("organization_id", "kind"),
        one_of("kind", INTEGRATION_KINDS),
    )

    id: Mapped[UUIDPrimaryKey]
    organization_id: Mapped[uuid.UUID] = mapped_column(cascade_to("organizations.id"))
    kind: Mapped[str] = mapped_column(Text)
    config: Mapped[JSONObject]
    secrets_encrypted: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


class Payment(Base):
    """A payment a flow asked a contact for: a Stripe Checkout Session and what became of it."""

    __tablename__ = "payments"
    __table_args__ = (one_of("status", PAYMENT_STATUSES),)

    id: Mapped[UUIDPrimaryKey]
    organization_id: Mapped[uuid.UUID] = mapped_column(cascade_to("organizations.id"))
    bot_id: Mapped[uuid.UUID] = mapped_column(cascade_to("bots.id"), index=True)
    contact_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL")
    )
    flow_run_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("flow_runs.id", ondelete="SET NULL")
    )
    run_workflow_id: Mapped[str] = mapped_column(Text)  # the flow run told when it settles
    idempotency_key: Mapped[str] = mapped_column(Text, unique=True)  # run + step
    amount: Mapped[int | None] = mapped_column(BigInteger)  # minor units (cents)
    currency: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[str] = mapped_column(Text, default="pending", server_default="pending")
    stripe_session_id: Mapped[str | None] = mapped_column(Text, unique=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]
    settled_at: Mapped[OptionalTimestamp]
