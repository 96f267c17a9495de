"""GraphQL for buying, installing and reviewing marketplace listings, and admins' refunds."""

from __future__ import annotations

import strawberry
from sqlalchemy import select, update
from strawberry.types import Info

from graphql_api.auth import ALL_ROLES, MANAGERS, user_of
from graphql_api.graph.context import platform_of, require_caller, transaction
from graphql_api.graph.limits import DEFAULT_PAGE_SIZE, page_size
from graphql_api.graph.marketplace_types import Install, Purchase, Review
from graphql_api.ids import parse_id
from models.errors import InvalidInput, NotFound
from models.marketplace_tables import Purchase as PurchaseRow
from services.marketplace import listings as marketplace
from services.marketplace import platform_stripe
from services.marketplace import reviews as marketplace_reviews
from services.marketplace import sales as marketplace_sales
from services.tenancy import bot_in


@strawberry.type
class MarketplaceSalesQuery:
    @strawberry.field(description="Your organization's purchases, newest first.")
    async def my_purchases(self, info: Info) -> list[Purchase]:
        caller = await require_caller(info)
        async with transaction(info) as session:
            rows = await session.scalars(
                select(PurchaseRow)
                .where(PurchaseRow.buyer_organization_id == caller.organization_id)
                .order_by(PurchaseRow.created_at.desc())
            )
            return [Purchase.of(row) for row in rows]

    @strawberry.field(description="Platform admins: purchases whose buyers asked for a refund.")
    async def refund_requests(self, info: Info) -> list[Purchase]:
        caller = await require_caller(info)
        async with transaction(info) as session:
            await marketplace.require_platform_admin(session, user_of(caller))
            rows = await session.scalars(
                select(PurchaseRow)
                .where(
                    PurchaseRow.refund_requested_at.is_not(None),
                    PurchaseRow.status.in_(marketplace_sales.OWNING),
                )
                .order_by(PurchaseRow.refund_requested_at)
            )
            return [Purchase.of(row) for row in rows]

    @strawberry.field(description="A listing's reviews, most helpful first.")
    async def listing_reviews(
        self, info: Info, listing_id: strawberry.ID, first: int = DEFAULT_PAGE_SIZE, offset: int = 0
    ) -> list[Review]:
        caller = await require_caller(info)
        async with transaction(info) as session:
            listing = await marketplace.visible_listing(
                session, caller.organization_id, parse_id(listing_id, "listing")
            )
            rows = await marketplace_reviews.reviews_of(
                session, listing.id, page_size(first), max(offset, 0)
            )
        return [Review.of(row) for row in rows]


@strawberry.type
class MarketplaceSalesMutation:
    @strawberry.mutation(
        description="Start buying a paid listing: the purchase, pending, with its Stripe "
        "Checkout URL; it is paid once Stripe confirms (then it carries a license key)."
    )
    async def buy_listing(self, info: Info, listing_id: strawberry.ID) -> Purchase:
        caller = await require_caller(info, MANAGERS)
        settings = platform_of(info).settings
        async with transaction(info) as session:
            listing = await marketplace.visible_listing(
                session, caller.organization_id, parse_id(listing_id, "listing")
            )
            purchase = await marketplace_sales.start_purchase(
                session,
                listing,
                caller.organization_id,
                caller.user_id,
                settings.marketplace_commission_percent,
            )
        if purchase.checkout_url is None:
            session_id, url = await platform_stripe.create_checkout(settings, listing, purchase)
            async with transaction(info) as session:
                purchase = await session.scalar(
                    update(PurchaseRow)
                    .where(PurchaseRow.id == purchase.id)
                    .values(stripe_session_id=session_id, checkout_url=url)
                    .returning(PurchaseRow)
                )
        return Purchase.of(purchase)

    @strawberry.mutation(
        description="Copy a listing's approved content into your organization (flows into "
        "`botId`, unpublished; a template as a private template; a bot as a new bot)."
    )
    async def install_listing(
        self, info: Info, listing_id: strawberry.ID, bot_id: strawberry.ID | None = None
    ) -> Install:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            bot = None
            if bot_id is not None:
                bot = await bot_in(session, caller.organization_id, parse_id(bot_id, "bot"))
            listing = await marketplace.visible_listing(
                session, caller.organization_id, parse_id(listing_id, "listing")
            )
            row = await marketplace_sales.install(
                session, listing, caller.organization_id, caller.user_id, bot
            )
            return Install.of(row)

    @strawberry.mutation(
        description="Bring your latest install of a flow or bot listing to its newest approved "
        "version: unedited flows change in place, edited ones stay as they are and the new "
        "version arrives next to them as `Name (vX.Y.Z)`, unpublished."
    )
    async def update_installed_listing(self, info: Info, listing_id: strawberry.ID) -> Install:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            listing = await marketplace.visible_listing(
                session, caller.organization_id, parse_id(listing_id, "listing")
            )
            row = await marketplace_sales.update_install(
                session, listing, caller.organization_id, caller.user_id
            )
            return Install.of(row)

    @strawberry.mutation(description="Ask the platform to refund your purchase of a listing.")
    async def request_refund(self, info: Info, listing_id: strawberry.ID, reason: str) -> Purchase:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            listing = await marketplace.visible_listing(
                session, caller.organization_id, parse_id(listing_id, "listing")
            )
            row = await marketplace_sales.request_refund(
                session, listing, caller.organization_id, reason
            )
            return Purchase.of(row)

    @strawberry.mutation(description="Use one activation of a license key you own.")
    async def activate_license(self, info: Info, license_key: str) -> Purchase:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            row = await marketplace_sales.activate_license(
                session, caller.organization_id, license_key
            )
            return Purchase.of(row)

    @strawberry.mutation(description="Review a listing: 1 to 5 stars, once per user.")
    async def review_listing(
        self,
        info: Info,
        listing_id: strawberry.ID,
        rating: int,
        title: str = "",
        comment: str = "",
    ) -> Review:
        caller = await require_caller(info, ALL_ROLES)
        async with transaction(info) as session:
            listing = await marketplace.visible_listing(
                session, caller.organization_id, parse_id(listing_id, "listing")
            )
            row = await marketplace_reviews.add_review(
                session, listing, caller.organization_id, user_of(caller), rating, title, comment
            )
            return Review.of(row)

    @strawberry.mutation(description="Say whether a review helped (once per user, changeable).")
    async def vote_review(self, info: Info, review_id: strawberry.ID, helpful: bool) -> Review:
        caller = await require_caller(info)
        async with transaction(info) as session:
            review = parse_id(review_id, "review")
            row = await marketplace_reviews.vote(
                session, caller.organization_id, user_of(caller), review, helpful
            )
            return Review.of(row)

    @strawberry.mutation(
        description="Platform admins: refund a paid purchase in full through Stripe; the "
        "installed content stays, its updates stop."
    )
    async def refund_purchase(self, info: Info, purchase_id: strawberry.ID) -> Purchase:
        caller = await require_caller(info)
        async with transaction(info) as session:
            admin = await marketplace.require_platform_admin(session, user_of(caller))
            purchase = await session.get(PurchaseRow, parse_id(purchase_id, "purchase"))
            if purchase is None:
                raise NotFound("no such purchase")
            await marketplace.listing_to_review(session, admin, purchase.listing_id)
            if purchase.status not in marketplace_sales.OWNING:
                raise InvalidInput(f"a {purchase.status} purchase cannot be refunded")
        refund_id = await platform_stripe.refund(platform_of(info).settings, purchase)
        async with transaction(info) as session:
            row = await session.scalar(
                update(PurchaseRow)
                .where(PurchaseRow.id == purchase.id)
                .values(status="refunded", stripe_refund_id=refund_id)
                .returning(PurchaseRow)
            )
        return Purchase.of(row)
