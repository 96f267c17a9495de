"""GraphQL for a seller's marketplace figures (`sellerAnalytics`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry
from strawberry.types import Info

from graphql_api.auth import MANAGERS
from graphql_api.graph.context import require_caller, transaction
from graphql_api.graph.types import gid
from models.money import from_minor
from services.marketplace import seller_figures as figures


@strawberry.enum
class AnalyticsPeriod(Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@strawberry.type(description="Sales in one period and currency (paid, not refunded).")
class SalesPeriod:
    start: datetime
    currency: str
    sales: int
    gross: Decimal
    commission: Decimal = strawberry.field(description="The platform's share.")
    net: Decimal = strawberry.field(description="The seller's revenue: gross − commission.")

    @classmethod
    def of(cls, row: figures.SalesPeriod) -> SalesPeriod:
        net = row.gross_minor - row.commission_minor
        return cls(
            start=row.start,
            currency=row.currency.upper(),
            sales=row.sales,
            gross=from_minor(row.gross_minor, row.currency),
            commission=from_minor(row.commission_minor, row.currency),
            net=from_minor(net, row.currency),
        )


@strawberry.type(description="Views and installs by other organizations in one period.")
class ActivityPeriod:
    start: datetime
    views: int
    installs: int


@strawberry.type
class ListingFigures:
    listing_id: strawberry.ID
    title: str
    views: int
    installs: int
    sales: int


@strawberry.type(description="A seller's figures; `views` and top listings are all-time.")
class SellerAnalytics:
    sales: list[SalesPeriod]
    activity: list[ActivityPeriod]
    views: int
    rating_average: Decimal | None
    rating_count: int
    top_listings: list[ListingFigures]


@strawberry.type
class MarketplaceAnalyticsQuery:
    @strawberry.field(description="Your organization's figures as a seller, by period (UTC).")
    async def seller_analytics(
        self,
        info: Info,
        since: datetime,
        until: datetime,
        period: AnalyticsPeriod = AnalyticsPeriod.MONTH,
    ) -> SellerAnalytics:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            found = await figures.seller_figures(
                session, caller.organization_id, since, until, period.value
            )
        average = found.rating_average
        return SellerAnalytics(
            sales=[SalesPeriod.of(row) for row in found.sales],
            activity=[
                ActivityPeriod(start=p.start, views=p.views, installs=p.installs)
                for p in found.activity
            ],
            views=found.views,
            rating_average=average.quantize(Decimal("0.01")) if average is not None else None,
            rating_count=found.rating_count,
            top_listings=[
                ListingFigures(
                    listing_id=gid(row.listing_id),
                    title=row.title,
                    views=row.views,
                    installs=row.installs,
                    sales=row.sales,
                )
                for row in found.top_listings
            ],
        )
