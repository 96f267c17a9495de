"""GraphQL for marketplace listings: search, sellers' listings and versions, and the platform
admins' review (approve, reject, suspend, feature)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.scalars import JSON
from strawberry.types import Info

from graphql_api.auth import MANAGERS, user_of
from graphql_api.graph.context import require_caller, transaction, writing
from graphql_api.graph.limits import DEFAULT_PAGE_SIZE, page_size
from graphql_api.graph.marketplace_types import (
    Listing,
    ListingInput,
    ListingPage,
    ListingSearch,
    ListingUpdate,
)
from graphql_api.ids import parse_id
from models.marketplace_tables import Listing as ListingRow
from models.marketplace_tables import ListingVersion
from services.marketplace import listings as marketplace
from services.marketplace.search import ListingFilter, search_listings

AdminAction = Callable[[AsyncSession, ListingRow], Awaitable[ListingRow]]


async def listing_of(session: AsyncSession, row: ListingRow) -> Listing:
    versions = await session.scalars(
        select(ListingVersion)
        .where(ListingVersion.listing_id == row.id)
        .order_by(ListingVersion.created_at)
    )
    return Listing.of(row, list(versions))


async def listings_of(session: AsyncSession, rows: list[ListingRow]) -> list[Listing]:
    return [await listing_of(session, row) for row in rows]


def listing_fields(value: ListingInput) -> marketplace.ListingFields:
    return marketplace.ListingFields(
        kind=value.kind.value,
        title=value.title,
        description=value.description,
        category=value.category,
        pricing_model=value.pricing_model.value,
        price=value.price,
        currency=value.currency,
        billing_interval=value.billing_interval.value if value.billing_interval else None,
        trial_days=value.trial_days,
        slug=value.slug,
        tags=value.tags,
        images=value.images,
        features=value.features,
        requirements=value.requirements,
    )


@strawberry.type
class MarketplaceQuery:
    @strawberry.field(description="Approved listings (and your own), searched and filtered.")
    async def marketplace_listings(
        self,
        info: Info,
        search: ListingSearch | None = None,
        first: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> ListingPage:
        caller = await require_caller(info)
        wanted = search or ListingSearch()
        criteria = ListingFilter(
            text=wanted.text,
            kind=wanted.kind.value if wanted.kind else None,
            category=wanted.category,
            pricing_model=wanted.pricing_model.value if wanted.pricing_model else None,
            min_price=wanted.min_price,
            max_price=wanted.max_price,
            currency=wanted.currency,
            min_rating=wanted.min_rating,
            featured=wanted.featured,
            sort=wanted.sort.value,
        )
        async with transaction(info) as session:
            rows, cursor = await search_listings(
                session, caller.organization_id, criteria, page_size(first), after
            )
            return ListingPage(items=await listings_of(session, rows), next_cursor=cursor)

    @strawberry.field(description="One listing; a view by another organization is counted.")
    async def marketplace_listing(self, info: Info, id: strawberry.ID) -> Listing:
        caller = await require_caller(info)
        async with writing(info) as session:  # a query that writes: the view count
            row = await marketplace.visible_listing(
                session, caller.organization_id, parse_id(id, "listing")
            )
            if row.organization_id != caller.organization_id:
                await marketplace.count_view(session, row)
            return await listing_of(session, row)

    @strawberry.field(description="Your organization's listings, newest first.")
    async def my_listings(self, info: Info) -> list[Listing]:
        caller = await require_caller(info)
        async with transaction(info) as session:
            rows = await session.scalars(
                select(ListingRow)
                .where(ListingRow.organization_id == caller.organization_id)
                .order_by(ListingRow.created_at.desc())
            )
            return await listings_of(session, list(rows))

    @strawberry.field(description="Platform admins: the listings waiting for review.")
    async def listings_to_review(self, info: Info) -> list[Listing]:
        caller = await require_caller(info)
        async with transaction(info) as session:
            await marketplace.require_platform_admin(session, caller.user_id)
            rows = await session.scalars(
                select(ListingRow)
                .where(ListingRow.status == "pending_review")
                .order_by(ListingRow.updated_at)
            )
            return await listings_of(session, list(rows))


@strawberry.type
class MarketplaceMutation:
    @strawberry.mutation(description="A draft listing; its content is checked as an import.")
    async def create_listing(self, info: Info, input: ListingInput) -> Listing:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            row = await marketplace.create_listing(
                session,
                caller.organization_id,
                caller.user_id,
                listing_fields(input),
                input.version,
                input.changelog,
                input.content,
            )
            return await listing_of(session, row)

    @strawberry.mutation(
        description="Change a listing's description or price; an approved listing goes back to "
        "review and stays on sale meanwhile."
    )
    async def update_listing(self, info: Info, id: strawberry.ID, input: ListingUpdate) -> Listing:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            row = await marketplace.own_listing(
                session, caller.organization_id, parse_id(id, "listing")
            )
            fields = marketplace.current_fields(row)
            for name, value in vars(input).items():
                if value is not None:
                    setattr(fields, name, value.value if isinstance(value, Enum) else value)
            return await listing_of(session, await marketplace.update_listing(session, row, fields))

    @strawberry.mutation(description="A newer version; it goes to review before installs get it.")
    async def add_listing_version(
        self,
        info: Info,
        listing_id: strawberry.ID,
        version: str,
        content: JSON,
        changelog: str = "",
    ) -> Listing:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            row = await marketplace.own_listing(
                session, caller.organization_id, parse_id(listing_id, "listing")
            )
            await marketplace.add_version(session, row, version, changelog, content)
            return await listing_of(session, row)

    @strawberry.mutation(description="Send a draft (or rejected) listing to the admins' review.")
    async def submit_listing(self, info: Info, id: strawberry.ID) -> Listing:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            row = await marketplace.own_listing(
                session, caller.organization_id, parse_id(id, "listing")
            )
            return await listing_of(session, await marketplace.submit(session, row))

    @strawberry.mutation(description="Platform admins: approve a listing and its versions.")
    async def approve_listing(self, info: Info, id: strawberry.ID) -> Listing:
        return await _review(info, id, lambda session, row: marketplace.approve(session, row))

    @strawberry.mutation(description="Platform admins: reject a listing under review, saying why.")
    async def reject_listing(self, info: Info, id: strawberry.ID, reason: str) -> Listing:
        return await _review(
            info, id, lambda session, row: marketplace.reject(session, row, reason)
        )

    @strawberry.mutation(description="Platform admins: take a listing off the marketplace.")
    async def suspend_listing(self, info: Info, id: strawberry.ID, reason: str = "") -> Listing:
        return await _review(
            info, id, lambda session, row: marketplace.suspend(session, row, reason)
        )

    @strawberry.mutation(description="Platform admins: feature a listing (shown first).")
    async def set_listing_featured(self, info: Info, id: strawberry.ID, featured: bool) -> Listing:
        async def feature(session: AsyncSession, row: ListingRow) -> ListingRow:
            row.featured = featured
            await session.flush()
            return row

        return await _review(info, id, feature)


async def _review(info: Info, listing_id: strawberry.ID, action: AdminAction) -> Listing:
    """Run an admin's action on a listing of an organization the admin is not part of."""
    caller = await require_caller(info)
    async with transaction(info) as session:
        admin = await marketplace.require_platform_admin(session, user_of(caller))
        row = await marketplace.listing_to_review(session, admin, parse_id(listing_id, "listing"))
        return await listing_of(session, await action(session, row))
