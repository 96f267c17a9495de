"""The marketplace: listings and versions, purchases with licenses, installs, reviews and their
votes, processed Stripe events; `users.platform_admin`.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Title (A), tags (B) and description (C), in English and in Spanish.
SEARCH_VECTOR = " || ".join(
    (
        "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A')",
        "setweight(to_tsvector('spanish'::regconfig, coalesce(title, '')), 'A')",
        "setweight(to_tsvector('english'::regconfig, coalesce(search_tags, '')), 'B')",
        "setweight(to_tsvector('spanish'::regconfig, coalesce(search_tags, '')), 'B')",
        "setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'C')",
        "setweight(to_tsvector('spanish'::regconfig, coalesce(description, '')), 'C')",
    )
)


def upgrade() -> None:
    op.create_table(
        "marketplace_stripe_events",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_marketplace_stripe_events")),
    )
    op.create_table(
        "marketplace_listings",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("search_tags", sa.Text(), server_default="", nullable=False),
        sa.Column("images", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("features", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("requirements", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("status", sa.Text(), server_default="draft", nullable=False),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("featured", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("pricing_model", sa.Text(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("currency", sa.Text(), server_default="usd", nullable=False),
        sa.Column("billing_interval", sa.Text(), nullable=True),
        sa.Column("trial_days", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rating_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rating_sum", sa.Integer(), server_default="0", nullable=False),
        sa.Column("install_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("view_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                SEARCH_VECTOR,
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(pricing_model = 'free') = (price_minor = 0)",
            name=op.f("ck_marketplace_listings_free_means_no_price"),
        ),
        sa.CheckConstraint(
            "(pricing_model = 'subscription') = (billing_interval IS NOT NULL)",
            name=op.f("ck_marketplace_listings_interval_for_subscriptions"),
        ),
        sa.CheckConstraint(
            "kind IN ('flow', 'template', 'bot')", name=op.f("ck_marketplace_listings_kind")
        ),
        sa.CheckConstraint(
            "pricing_model IN ('free', 'one_time', 'subscription')",
            name=op.f("ck_marketplace_listings_pricing_model"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'pending_review', 'approved', 'rejected', 'suspended')",
            name=op.f("ck_marketplace_listings_status"),
        ),
        sa.CheckConstraint(
            "price_minor >= 0", name=op.f("ck_marketplace_listings_price_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_marketplace_listings_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_marketplace_listings_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketplace_listings")),
        sa.UniqueConstraint("slug", name=op.f("uq_marketplace_listings_slug")),
    )
    op.create_index(
        op.f("ix_marketplace_listings_organization_id"),
        "marketplace_listings",
        ["organization_id"],
        unique=False,
    )
    op.create_index(
        "ix_marketplace_listings_search",
        "marketplace_listings",
        ["search_vector"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_table(
        "marketplace_listing_versions",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("changelog", sa.Text(), server_default="", nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["marketplace_listings.id"],
            name=op.f("fk_marketplace_listing_versions_listing_id_marketplace_listings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketplace_listing_versions")),
        sa.UniqueConstraint(
            "listing_id", "version", name=op.f("uq_marketplace_listing_versions_listing_id_version")
        ),
    )
    op.create_table(
        "marketplace_reviews",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), server_default="", nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column("verified", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("helpful_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("not_helpful_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "rating BETWEEN 1 AND 5", name=op.f("ck_marketplace_reviews_rating_range")
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["marketplace_listings.id"],
            name=op.f("fk_marketplace_reviews_listing_id_marketplace_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_marketplace_reviews_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_marketplace_reviews_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketplace_reviews")),
        sa.UniqueConstraint(
            "listing_id", "user_id", name=op.f("uq_marketplace_reviews_listing_id_user_id")
        ),
    )
    op.create_table(
        "marketplace_purchases",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("buyer_organization_id", sa.Uuid(), nullable=False),
        sa.Column("buyer_user_id", sa.Uuid(), nullable=True),
        sa.Column("pricing_model", sa.Text(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("commission_percent", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("commission_minor", sa.BigInteger(), nullable=False),
        sa.Column("seller_revenue_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("checkout_url", sa.Text(), nullable=True),
        sa.Column("stripe_session_id", sa.Text(), nullable=True),
        sa.Column("stripe_payment_intent_id", sa.Text(), nullable=True),
        sa.Column("stripe_subscription_id", sa.Text(), nullable=True),
        sa.Column("license_key", sa.Text(), nullable=True),
        sa.Column("max_activations", sa.Integer(), server_default="3", nullable=False),
        sa.Column("activations", sa.Integer(), server_default="0", nullable=False),
        sa.Column("refund_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refund_reason", sa.Text(), nullable=True),
        sa.Column("stripe_refund_id", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'paid', 'past_due', 'cancelled', 'refunded', 'expired')",
            name=op.f("ck_marketplace_purchases_status"),
        ),
        sa.CheckConstraint(
            "commission_minor + seller_revenue_minor = amount_minor",
            name=op.f("ck_marketplace_purchases_split_adds_up"),
        ),
        sa.ForeignKeyConstraint(
            ["buyer_organization_id"],
            ["organizations.id"],
            name=op.f("fk_marketplace_purchases_buyer_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["buyer_user_id"],
            ["users.id"],
            name=op.f("fk_marketplace_purchases_buyer_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["marketplace_listings.id"],
            name=op.f("fk_marketplace_purchases_listing_id_marketplace_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["marketplace_listing_versions.id"],
            name=op.f("fk_marketplace_purchases_version_id_marketplace_listing_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketplace_purchases")),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_marketplace_purchases_idempotency_key")
        ),
        sa.UniqueConstraint("license_key", name=op.f("uq_marketplace_purchases_license_key")),
        sa.UniqueConstraint(
            "stripe_session_id", name=op.f("uq_marketplace_purchases_stripe_session_id")
        ),
    )
    op.create_index(
        "uq_marketplace_purchases_one_pending",
        "marketplace_purchases",
        ["listing_id", "buyer_organization_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        op.f("ix_marketplace_purchases_buyer_organization_id"),
        "marketplace_purchases",
        ["buyer_organization_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_marketplace_purchases_listing_id"),
        "marketplace_purchases",
        ["listing_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_marketplace_purchases_stripe_subscription_id"),
        "marketplace_purchases",
        ["stripe_subscription_id"],
        unique=False,
    )
    op.create_table(
        "marketplace_review_votes",
        sa.Column("review_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["marketplace_reviews.id"],
            name=op.f("fk_marketplace_review_votes_review_id_marketplace_reviews"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_marketplace_review_votes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("review_id", "user_id", name=op.f("pk_marketplace_review_votes")),
    )
    op.create_table(
        "marketplace_installs",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("purchase_id", sa.Uuid(), nullable=True),
        sa.Column("bot_id", sa.Uuid(), nullable=True),
        sa.Column("flow_ids", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=True),
        sa.Column("installed_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["bots.id"],
            name=op.f("fk_marketplace_installs_bot_id_bots"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["installed_by"],
            ["users.id"],
            name=op.f("fk_marketplace_installs_installed_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["marketplace_listings.id"],
            name=op.f("fk_marketplace_installs_listing_id_marketplace_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_marketplace_installs_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["purchase_id"],
            ["marketplace_purchases.id"],
            name=op.f("fk_marketplace_installs_purchase_id_marketplace_purchases"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["organization_templates.id"],
            name=op.f("fk_marketplace_installs_template_id_organization_templates"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["marketplace_listing_versions.id"],
            name=op.f("fk_marketplace_installs_version_id_marketplace_listing_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketplace_installs")),
    )
    op.create_index(
        op.f("ix_marketplace_installs_listing_id"),
        "marketplace_installs",
        ["listing_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_marketplace_installs_organization_id"),
        "marketplace_installs",
        ["organization_id"],
        unique=False,
    )
    op.create_table(
        "marketplace_listing_views",
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("views", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["marketplace_listings.id"],
            name=op.f("fk_marketplace_listing_views_listing_id_marketplace_listings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("listing_id", "day", name=op.f("pk_marketplace_listing_views")),
    )
    op.add_column(
        "users",
        sa.Column("platform_admin", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("users", "platform_admin")
    op.drop_table("marketplace_listing_views")
    op.drop_index(
        op.f("ix_marketplace_installs_organization_id"), table_name="marketplace_installs"
    )
    op.drop_index(op.f("ix_marketplace_installs_listing_id"), table_name="marketplace_installs")
    op.drop_table("marketplace_installs")
    op.drop_table("marketplace_review_votes")
    op.drop_index(
        op.f("ix_marketplace_purchases_stripe_subscription_id"), table_name="marketplace_purchases"
    )
    op.drop_index(op.f("ix_marketplace_purchases_listing_id"), table_name="marketplace_purchases")
    op.drop_index("uq_marketplace_purchases_one_pending", table_name="marketplace_purchases")
    op.drop_index(
        op.f("ix_marketplace_purchases_buyer_organization_id"), table_name="marketplace_purchases"
    )
    op.drop_table("marketplace_purchases")
    op.drop_table("marketplace_reviews")
    op.drop_table("marketplace_listing_versions")
    op.drop_index(
        "ix_marketplace_listings_search", table_name="marketplace_listings", postgresql_using="gin"
    )
    op.drop_index(
        op.f("ix_marketplace_listings_organization_id"), table_name="marketplace_listings"
    )
    op.drop_table("marketplace_listings")
    op.drop_table("marketplace_stripe_events")
