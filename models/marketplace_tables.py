"""Tables of the marketplace: listings and their versions, purchases (with license keys),
installs, reviews and their votes, and the Stripe events already processed.

Money is stored as integers in the currency's minor units (cents); see `models.money`.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from models.columns import (
    CreatedAt,
    OptionalTimestamp,
    UpdatedAt,
    UUIDPrimaryKey,
    cascade_to,
    one_of,
)
from models.db import Base

LISTING_KINDS = ("flow", "template", "bot")
LISTING_STATUSES = ("draft", "pending_review", "approved", "rejected", "suspended")
PRICING_MODELS = ("free", "one_time", "subscription")
BILLING_INTERVALS = ("month", "year")
PURCHASE_STATUSES = ("pending", "paid", "past_due", "cancelled", "refunded", "expired")


def _weighted(column: str, weight: str) -> str:
    return " || ".join(
        f"setweight(to_tsvector('{config}'::regconfig, coalesce({column}, '')), '{weight}')"
        for config in ("english", "spanish")
    )


SEARCH_VECTOR = " || ".join(
    (_weighted("title", "A"), _weighted("search_tags", "B"), _weighted("description", "C"))
)
TextList = ARRAY(Text)


class Listing(Base):
    """Something an organization offers: a flow, a template or a whole bot, free or paid."""

    __tablename__ = "marketplace_listings"
    __table_args__ = (
        one_of("kind", LISTING_KINDS),
        one_of("status", LISTING_STATUSES),
        one_of("pricing_model", PRICING_MODELS),
        CheckConstraint("price_minor >= 0", name="price_not_negative"),
        CheckConstraint("(pricing_model = 'free') = (price_minor = 0)", name="free_means_no_price"),
        CheckConstraint(
            "(pricing_model = 'subscription') = (billing_interval IS NOT NULL)",
            name="interval_for_subscriptions",
        ),
        Index("ix_marketplace_listings_search", "search_vector", postgresql_using="gin"),
    )

    id: Mapped[UUIDPrimaryKey]
    organization_id: Mapped[uuid.UUID] = mapped_column(cascade_to("organizations.id"), index=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(Text)
    slug: Mapped[str] = mapped_column(Text, unique=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    category: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(TextList, default=list, server_default="{}")
    search_tags: Mapped[str] = mapped_column(Text, default="", server_default="")
    images: Mapped[list[str]] = mapped_column(TextList, default=list, server_default="{}")
    features: Mapped[list[str]] = mapped_column(TextList, default=list, server_default="{}")
    requirements: Mapped[list[str]] = mapped_column(TextList, default=list, server_default="{}")
    status: Mapped[str] = mapped_column(Text, default="draft", server_default="draft")
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    featured: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    pricing_model: Mapped[str] = mapped_column(Text)
    price_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    currency: Mapped[str] = mapped_column(Text, default="usd", server_default="usd")
    billing_interval: Mapped[str | None] = mapped_column(Text)
    trial_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rating_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rating_sum: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    install_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    view_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    search_vector: Mapped[Any] = mapped_column(TSVECTOR, Computed(SEARCH_VECTOR, persisted=True))
    approved_at: Mapped[OptionalTimestamp]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


class ListingVersion(Base):
    """One version of a listing's packaged content (the export file format), approved or not."""

    __tablename__ = "marketplace_listing_versions"
    __table_args__ = (UniqueConstraint("listing_id", "version"),)

    id: Mapped[UUIDPrimaryKey]
    listing_id: Mapped[uuid.UUID] = mapped_column(cascade_to("marketplace_listings.id"))
    version: Mapped[str] = mapped_column(Text)
    changelog: Mapped[str] = mapped_column(Text, default="", server_default="")
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    approved_at: Mapped[OptionalTimestamp]
    created_at: Mapped[CreatedAt]


class Purchase(Base):
    """An organization's purchase of a paid listing, with the money split and its license."""

    __tablename__ = "marketplace_purchases"
    __table_args__ = (
        one_of("status", PURCHASE_STATUSES),
        CheckConstraint(
            "commission_minor + seller_revenue_minor = amount_minor", name="split_adds_up"
        ),
        Index(  # one open checkout per buyer and listing, even when asked twice at once
            "uq_marketplace_purchases_one_pending",
            "listing_id",
            "buyer_organization_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[UUIDPrimaryKey]
    listing_id: Mapped[uuid.UUID] = mapped_column(cascade_to("marketplace_listings.id"), index=True)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("marketplace_listing_versions.id"))
    buyer_organization_id: Mapped[uuid.UUID] = mapped_column(
        cascade_to("organizations.id"), index=True
    )
    buyer_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    pricing_model: Mapped[str] = mapped_column(Text)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(Text)
    commission_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    commission_minor: Mapped[int] = mapped_column(BigInteger)
    seller_revenue_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(Text, default="pending", server_default="pending")
    idempotency_key: Mapped[str] = mapped_column(Text, unique=True)
    checkout_url: Mapped[str | None] = mapped_column(Text)
    stripe_session_id: Mapped[str | None] = mapped_column(Text, unique=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(Text)
    stripe_subscription_id: Mapped[str | None] = mapped_column(Text, index=True)
    license_key: Mapped[str | None] = mapped_column(Text, unique=True)
    max_activations: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    activations: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    refund_requested_at: Mapped[OptionalTimestamp]
    refund_reason: Mapped[str | None] = mapped_column(Text)
    stripe_refund_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
    paid_at: Mapped[OptionalTimestamp]


class Install(Base):
    """A copy of a listing's content put into an organization, at the version it took."""

    __tablename__ = "marketplace_installs"

    id: Mapped[UUIDPrimaryKey]
    listing_id: Mapped[uuid.UUID] = mapped_column(cascade_to("marketplace_listings.id"), index=True)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("marketplace_listing_versions.id"))
    organization_id: Mapped[uuid.UUID] = mapped_column(cascade_to("organizations.id"), index=True)
    purchase_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("marketplace_purchases.id", ondelete="SET NULL")
    )
    bot_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bots.id", ondelete="SET NULL"))
    flow_ids: Mapped[list[str]] = mapped_column(TextList, default=list, server_default="{}")
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organization_templates.id", ondelete="SET NULL")
    )
    installed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[CreatedAt]


class Review(Base):
    """One buyer's stars and words on a listing (verified when they bought or installed it)."""

    __tablename__ = "marketplace_reviews"
    __table_args__ = (
        UniqueConstraint("listing_id", "user_id"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
    )

    id: Mapped[UUIDPrimaryKey]
    listing_id: Mapped[uuid.UUID] = mapped_column(cascade_to("marketplace_listings.id"))
    organization_id: Mapped[uuid.UUID] = mapped_column(cascade_to("organizations.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(cascade_to("users.id"))
    rating: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text, default="", server_default="")
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    verified: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    helpful_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    not_helpful_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[CreatedAt]


class ReviewVote(Base):
    """A user's helpful / not helpful vote on a review (one each, changeable)."""

    __tablename__ = "marketplace_review_votes"

    review_id: Mapped[uuid.UUID] = mapped_column(
        cascade_to("marketplace_reviews.id"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(cascade_to("users.id"), primary_key=True)
    helpful: Mapped[bool]


class ListingViews(Base):
    """How often other organizations looked at a listing on one UTC day (seller analytics)."""

    __tablename__ = "marketplace_listing_views"

    listing_id: Mapped[uuid.UUID] = mapped_column(
        cascade_to("marketplace_listings.id"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    views: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class StripeEvent(Base):
    """A platform Stripe event already processed: a redelivery changes nothing."""

    __tablename__ = "marketplace_stripe_events"

    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    type: Mapped[str] = mapped_column(Text)
    received_at: Mapped[CreatedAt]
