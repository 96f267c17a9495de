"""Tables of outgoing webhooks: endpoints, the event outbox, deliveries and their attempts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
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

DELIVERY_STATES = ("pending", "succeeded", "failed")


class WebhookEndpoint(Base):
    """Where an organization (or one of its bots) wants its events POSTed, and how to sign them.

    `active` is the owner's switch; `disabled_at`/`disabled_reason` are set by delivery (410 Gone,
    or every attempt failing for days). The previous secret also signs until it expires.
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[UUIDPrimaryKey]
    organization_id: Mapped[uuid.UUID] = mapped_column(cascade_to("organizations.id"), index=True)
    bot_id: Mapped[uuid.UUID | None] = mapped_column(cascade_to("bots.id"))
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    events: Mapped[list[str]] = mapped_column(ARRAY(Text))
    headers: Mapped[JSONObject]
    active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[OptionalTimestamp]
    disabled_at: Mapped[OptionalTimestamp]
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    failing_since: Mapped[OptionalTimestamp]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


class WebhookEvent(Base):
    """One fact in the outbox, written in the transaction that stored the fact; `payload` is the
    exact JSON body every endpoint receives."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_organization_created", "organization_id", "created_at"),
    )

    id: Mapped[UUIDPrimaryKey]
    organization_id: Mapped[uuid.UUID] = mapped_column(cascade_to("organizations.id"))
    bot_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bots.id", ondelete="SET NULL"))
    type: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[CreatedAt]


class WebhookDelivery(Base):
    """One event for one endpoint: its state and when it is next tried."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        one_of("status", DELIVERY_STATES),
        Index("ix_webhook_deliveries_due", "endpoint_id", "status", "next_attempt_at"),
    )

    id: Mapped[UUIDPrimaryKey]
    event_id: Mapped[uuid.UUID] = mapped_column(cascade_to("webhook_events.id"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(cascade_to("webhook_endpoints.id"))
    status: Mapped[str] = mapped_column(Text, default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[OptionalTimestamp]
    created_at: Mapped[CreatedAt]


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery, for the delivery log."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(cascade_to("webhook_deliveries.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    response_excerpt: Mapped[str] = mapped_column(Text, default="", server_default="")
    error: Mapped[str | None] = mapped_column(Text)
