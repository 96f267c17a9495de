"""A seller's figures: installs, sales and revenue (gross, platform commission, net) per period
and currency, views, rating and the top listings. Revenue counts purchases that were paid
(paid, past due or cancelled later), not refunded or unpaid ones."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.errors import InvalidInput
from models.marketplace_tables import Install, Listing, ListingViews, Purchase, Review

PERIODS = ("day", "week", "month")
EARNING = ("paid", "past_due", "cancelled")


@dataclass(frozen=True)
class SalesPeriod:
    """Sales in one period and currency; net is gross minus commission."""

    start: datetime
    currency: str
    sales: int
    gross_minor: int
    commission_minor: int


@dataclass(frozen=True)
class ActivityPeriod:
    """Views and installs by other organizations in one period."""

    start: datetime
    views: int
    installs: int


@dataclass(frozen=True)
class ListingFigures:
    listing_id: uuid.UUID
    title: str
    views: int
    installs: int
    sales: int


@dataclass(frozen=True)
class SellerFigures:
    sales: list[SalesPeriod]
    activity: list[ActivityPeriod]
    views: int
    rating_average: Decimal | None
    rating_count: int
    top_listings: list[ListingFigures]


def _bucket(period: str, column: object) -> object:
    """The start of the UTC period holding `column`, as a UTC timestamp."""
    return func.timezone("UTC", func.date_trunc(literal(period), func.timezone("UTC", column)))


async def seller_figures(
    session: AsyncSession,
    organization_id: uuid.UUID,
    since: datetime,
    until: datetime,
    period: str,
    top: int = 5,
) -> SellerFigures:
    """The organization's figures as a seller between `since` and `until`."""
    if period not in PERIODS:
        raise InvalidInput(f"unknown period {period!r}; expected one of {', '.join(PERIODS)}")
    if since >= until:
        raise InvalidInput("`since` must be before `until`")
    mine = select(Listing.id).where(Listing.organization_id == organization_id)
    sale_bucket = _bucket(period, Purchase.paid_at)
    sales = await session.execute(
        select(
            sale_bucket,
            Purchase.currency,
            func.count(),
            func.sum(Purchase.amount_minor),
            func.sum(Purchase.commission_minor),
        )
        .where(
            Purchase.listing_id.in_(mine),
            Purchase.status.in_(EARNING),
            Purchase.paid_at >= since,
            Purchase.paid_at < until,
        )
        .group_by(sale_bucket, Purchase.currency)
    )
    install_bucket = _bucket(period, Install.created_at)
    installs = await session.execute(
        select(install_bucket, func.count())
        .where(
            Install.listing_id.in_(mine),
            Install.organization_id != organization_id,
            Install.created_at >= since,
            Install.created_at < until,
        )
        .group_by(install_bucket)
    )
    view_bucket = _bucket(period, ListingViews.day.cast(DateTime(timezone=True)))
    views = await session.execute(
        select(view_bucket, func.sum(ListingViews.views))
        .where(
            ListingViews.listing_id.in_(mine),
            ListingViews.day >= func.timezone("UTC", since).cast(Date),
            ListingViews.day < func.timezone("UTC", until).cast(Date) + 1,
        )
        .group_by(view_bucket)
    )
    viewed = {start: int(count) for start, count in views}
    installed = {start: count for start, count in installs}
    activity = [
        ActivityPeriod(start, viewed.get(start, 0), installed.get(start, 0))
        for start in sorted(viewed.keys() | installed.keys())
    ]
    ratings = (
        await session.execute(
            select(func.avg(Review.rating), func.count()).where(Review.listing_id.in_(mine))
        )
    ).one()
    listings = list(
        await session.scalars(select(Listing).where(Listing.organization_id == organization_id))
    )
    counted = await session.execute(
        select(Purchase.listing_id, func.count())
        .where(Purchase.listing_id.in_(mine), Purchase.status.in_(EARNING))
        .group_by(Purchase.listing_id)
    )
    sold = {listing_id: count for listing_id, count in counted}
    ranked = sorted(listings, key=lambda row: (-(sold.get(row.id, 0)), -row.install_count))
    return SellerFigures(
        sales=sorted((SalesPeriod(*row) for row in sales), key=lambda p: (p.start, p.currency)),
        activity=activity,
        views=sum(row.view_count for row in listings),
        rating_average=ratings[0],
        rating_count=ratings[1],
        top_listings=[
            ListingFigures(
                row.id, row.title, row.view_count, row.install_count, sold.get(row.id, 0)
            )
            for row in ranked[:top]
        ],
    )
