"""Searching the marketplace: PostgreSQL full-text search in English and Spanish over title
(weight A), tags (B) and description (C), filters, five orders and an opaque cursor."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, func, literal, select
from sqlalchemy.dialects.postgresql import REGCONFIG
from sqlalchemy.ext.asyncio import AsyncSession

from models.errors import InvalidInput
from models.marketplace_tables import Listing
from models.money import to_minor
from services.marketplace.listings import visible_to

SORTS = ("relevance", "popular", "rating", "price", "newest")


@dataclass
class ListingFilter:
    """What to look for; prices are compared in the listing's own currency's minor units."""

    text: str = ""
    kind: str | None = None
    category: str | None = None
    pricing_model: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    currency: str = "usd"
    min_rating: Decimal | None = None
    featured: bool | None = None
    sort: str = "relevance"


def _query(text: str) -> ColumnElement:
    return func.websearch_to_tsquery(literal("english").cast(REGCONFIG), text).op("||")(
        func.websearch_to_tsquery(literal("spanish").cast(REGCONFIG), text)
    )


def average_rating() -> ColumnElement:
    return func.coalesce(Listing.rating_sum * 1.0 / func.nullif(Listing.rating_count, 0), 0)


def _filtered(organization_id: uuid.UUID, wanted: ListingFilter) -> Select:
    query = select(Listing).where(visible_to(organization_id))
    if wanted.text.strip():
        query = query.where(Listing.search_vector.op("@@")(_query(wanted.text)))
    for column, value in (
        (Listing.kind, wanted.kind),
        (Listing.category, wanted.category and wanted.category.lower()),
        (Listing.pricing_model, wanted.pricing_model),
        (Listing.featured, wanted.featured),
    ):
        if value is not None:
            query = query.where(column == value)
    if wanted.min_price is not None:
        query = query.where(Listing.price_minor >= to_minor(wanted.min_price, wanted.currency))
    if wanted.max_price is not None:
        query = query.where(Listing.price_minor <= to_minor(wanted.max_price, wanted.currency))
    if wanted.min_price is not None or wanted.max_price is not None:
        query = query.where(Listing.currency == wanted.currency.lower())
    if wanted.min_rating is not None:
        query = query.where(average_rating() >= wanted.min_rating)
    return query


def _ordered(query: Select, wanted: ListingFilter) -> Select:
    if wanted.sort not in SORTS:
        raise InvalidInput(f"unknown sort {wanted.sort!r}; expected one of {', '.join(SORTS)}")
    sort = wanted.sort
    if sort == "relevance" and not wanted.text.strip():
        sort = "popular"
    order = {
        "relevance": [func.ts_rank_cd(Listing.search_vector, _query(wanted.text)).desc()],
        "popular": [Listing.install_count.desc()],
        "rating": [average_rating().desc(), Listing.rating_count.desc()],
        "price": [Listing.price_minor.asc()],
        "newest": [Listing.created_at.desc()],
    }[sort]
    return query.order_by(Listing.featured.desc(), *order, Listing.id)


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind == "o" and value.isdigit():
            return int(value)
    except (binascii.Error, UnicodeDecodeError):
        pass
    raise InvalidInput("this cursor is not one a previous page returned")


async def search_listings(
    session: AsyncSession,
    organization_id: uuid.UUID,
    wanted: ListingFilter,
    first: int,
    after: str | None,
) -> tuple[list[Listing], str | None]:
    """A page of matching listings and the cursor of the next page (None at the end)."""
    offset = decode_cursor(after)
    query = _ordered(_filtered(organization_id, wanted), wanted)
    rows = list(await session.scalars(query.offset(offset).limit(first + 1)))
    more = len(rows) > first
    return rows[:first], encode_cursor(offset + first) if more else None
