"""GraphQL types of the marketplace: listings, purchases, installs and reviews.

Money leaves as `Decimal` amounts in the currency's major unit (19.99), computed from the
integer minor units stored; the currency is an upper-case ISO code.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from graphql_api.graph.types import gid
from models import marketplace_tables as rows
from models.money import from_minor


@strawberry.enum
class ListingKind(Enum):
    FLOW = "flow"
    TEMPLATE = "template"
    BOT = "bot"


@strawberry.enum
class ListingStatus(Enum):
    DRAFT = "draft"
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


@strawberry.enum
class PricingModel(Enum):
    FREE = "free"
    ONE_TIME = "one_time"
    SUBSCRIPTION = "subscription"


@strawberry.enum
class BillingInterval(Enum):
    MONTH = "month"
    YEAR = "year"


@strawberry.enum
class ListingSort(Enum):
    RELEVANCE = "relevance"
    POPULAR = "popular"
    RATING = "rating"
    PRICE = "price"
    NEWEST = "newest"


@strawberry.enum
class PurchaseStatus(Enum):
    PENDING = "pending"
    PAID = "paid"
    PAST_DUE = "past_due"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    EXPIRED = "expired"


@strawberry.input(description="A listing and its first version (content: an export file).")
class ListingInput:
    kind: ListingKind
    title: str
    category: str
    content: JSON = strawberry.field(
        description="A flow export file (flows, templates) or a bot configuration file (bots)."
    )
    description: str = ""
    pricing_model: PricingModel = PricingModel.FREE
    price: Decimal = strawberry.field(default=Decimal(0), description="E.g. 19.99; 0 when free.")
    currency: str = "USD"
    billing_interval: BillingInterval | None = None
    trial_days: int = 0
    slug: str | None = None
    tags: list[str] = strawberry.field(default_factory=list)
    images: list[str] = strawberry.field(default_factory=list, description="Image URLs.")
    features: list[str] = strawberry.field(default_factory=list)
    requirements: list[str] = strawberry.field(default_factory=list)
    version: str = "1.0.0"
    changelog: str = ""


@strawberry.input(description="Only the fields given change.")
class ListingUpdate:
    title: str | None = None
    description: str | None = None
    category: str | None = None
    pricing_model: PricingModel | None = None
    price: Decimal | None = None
    currency: str | None = None
    billing_interval: BillingInterval | None = None
    trial_days: int | None = None
    slug: str | None = None
    tags: list[str] | None = None
    images: list[str] | None = None
    features: list[str] | None = None
    requirements: list[str] | None = None


@strawberry.input(description="Search and filters; prices in `currency`, ratings 1 to 5.")
class ListingSearch:
    text: str = ""
    kind: ListingKind | None = None
    category: str | None = None
    pricing_model: PricingModel | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    currency: str = "USD"
    min_rating: Decimal | None = None
    featured: bool | None = None
    sort: ListingSort = ListingSort.RELEVANCE


@strawberry.type(description="A version of a listing's content.")
class ListingVersion:
    id: strawberry.ID
    version: str
    changelog: str
    approved: bool
    created_at: datetime

    @classmethod
    def of(cls, row: rows.ListingVersion) -> ListingVersion:
        return cls(
            id=gid(row.id),
            version=row.version,
            changelog=row.changelog,
            approved=row.approved_at is not None,
            created_at=row.created_at,
        )


@strawberry.type(description="A flow, template or bot offered on the marketplace.")
class Listing:
    id: strawberry.ID
    seller_organization_id: strawberry.ID
    kind: ListingKind
    slug: str
    title: str
    description: str
    category: str
    tags: list[str]
    images: list[str]
    features: list[str]
    requirements: list[str]
    status: ListingStatus
    rejection_reason: str | None
    featured: bool
    pricing_model: PricingModel
    price: Decimal
    currency: str
    billing_interval: BillingInterval | None
    trial_days: int
    rating_average: Decimal | None = strawberry.field(description="Two decimals; null: none.")
    rating_count: int
    install_count: int
    view_count: int
    created_at: datetime
    versions: list[ListingVersion]

    @classmethod
    def of(cls, row: rows.Listing, versions: list[rows.ListingVersion]) -> Listing:
        average = None
        if row.rating_count:
            average = (Decimal(row.rating_sum) / row.rating_count).quantize(Decimal("0.01"))
        interval = row.billing_interval
        return cls(
            id=gid(row.id),
            seller_organization_id=gid(row.organization_id),
            kind=ListingKind(row.kind),
            slug=row.slug,
            title=row.title,
            description=row.description,
            category=row.category,
            tags=row.tags,
            images=row.images,
            features=row.features,
            requirements=row.requirements,
            status=ListingStatus(row.status),
            rejection_reason=row.rejection_reason,
            featured=row.featured,
            pricing_model=PricingModel(row.pricing_model),
            price=from_minor(row.price_minor, row.currency),
            currency=row.currency.upper(),
            billing_interval=BillingInterval(interval) if interval else None,
            trial_days=row.trial_days,
            rating_average=average,
            rating_count=row.rating_count,
            install_count=row.install_count,
            view_count=row.view_count,
            created_at=row.created_at,
            versions=[ListingVersion.of(version) for version in versions],
        )


@strawberry.type
class ListingPage:
    items: list[Listing]
    next_cursor: str | None = strawberry.field(description="Pass as `after`; null: no more.")


@strawberry.type(description="A purchase of a paid listing and its license.")
class Purchase:
    id: strawberry.ID
    listing_id: strawberry.ID
    version_id: strawberry.ID
    status: PurchaseStatus
    pricing_model: PricingModel
    amount: Decimal
    currency: str
    commission_percent: Decimal
    commission: Decimal = strawberry.field(description="The platform's share.")
    seller_revenue: Decimal
    checkout_url: str | None = strawberry.field(description="Stripe Checkout, while pending.")
    stripe_session_id: str | None
    stripe_subscription_id: str | None
    license_key: str | None = strawberry.field(description="Issued once paid.")
    max_activations: int
    activations: int
    refund_requested_at: datetime | None
    refund_reason: str | None
    stripe_refund_id: str | None
    created_at: datetime
    paid_at: datetime | None

    @classmethod
    def of(cls, row: rows.Purchase) -> Purchase:
        return cls(
            id=gid(row.id),
            listing_id=gid(row.listing_id),
            version_id=gid(row.version_id),
            status=PurchaseStatus(row.status),
            pricing_model=PricingModel(row.pricing_model),
            amount=from_minor(row.amount_minor, row.currency),
            currency=row.currency.upper(),
            commission_percent=row.commission_percent,
            commission=from_minor(row.commission_minor, row.currency),
            seller_revenue=from_minor(row.seller_revenue_minor, row.currency),
            checkout_url=row.checkout_url if row.status == "pending" else None,
            stripe_session_id=row.stripe_session_id,
            stripe_subscription_id=row.stripe_subscription_id,
            license_key=row.license_key,
            max_activations=row.max_activations,
            activations=row.activations,
            refund_requested_at=row.refund_requested_at,
            refund_reason=row.refund_reason,
            stripe_refund_id=row.stripe_refund_id,
            created_at=row.created_at,
            paid_at=row.paid_at,
        )


@strawberry.type(description="A listing's content copied into your organization.")
class Install:
    id: strawberry.ID
    listing_id: strawberry.ID
    version_id: strawberry.ID
    bot_id: strawberry.ID | None
    flow_ids: list[strawberry.ID]
    template_id: strawberry.ID | None
    created_at: datetime

    @classmethod
    def of(cls, row: rows.Install) -> Install:
        return cls(
            id=gid(row.id),
            listing_id=gid(row.listing_id),
            version_id=gid(row.version_id),
            bot_id=gid(row.bot_id) if row.bot_id else None,
            flow_ids=[strawberry.ID(flow) for flow in row.flow_ids],
            template_id=gid(row.template_id) if row.template_id else None,
            created_at=row.created_at,
        )


@strawberry.type(description="A user's stars and words on a listing.")
class Review:
    id: strawberry.ID
    listing_id: strawberry.ID
    rating: int
    title: str
    comment: str
    verified: bool = strawberry.field(description="The reviewer bought or installed it.")
    helpful_count: int
    not_helpful_count: int
    created_at: datetime

    @classmethod
    def of(cls, row: rows.Review) -> Review:
        return cls(
            id=gid(row.id),
            listing_id=gid(row.listing_id),
            rating=row.rating,
            title=row.title,
            comment=row.comment,
            verified=row.verified,
            helpful_count=row.helpful_count,
            not_helpful_count=row.not_helpful_count,
            created_at=row.created_at,
        )
