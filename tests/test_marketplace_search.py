"""Searching a small known catalogue: English and Spanish full-text relevance, filters, sorts,
cursor pages, unapproved listings kept from other organizations; reviews and their votes."""

from __future__ import annotations

from typing import Any

import httpx

from models.settings import Settings
from tests.graphql_client import GraphQL
from tests.marketplace_fixtures import (
    CREATE_LISTING,
    INSTALL,
    approved_listing,
    listing_input,
    market,
    organization,
)

SEARCH = """query($s: ListingSearch, $first: Int, $after: String) {
  marketplaceListings(search: $s, first: $first, after: $after) {
    items { title price ratingAverage ratingCount } nextCursor } }"""
REVIEW = """mutation($id: ID!, $r: Int!) { reviewListing(listingId: $id, rating: $r,
  title: "Useful", comment: "Saved us hours") { id rating verified } }"""
CATALOGUE: list[dict[str, Any]] = [
    {
        "title": "Restaurant reservations",
        "description": "Take table bookings on WhatsApp",
        "tags": ["booking"],
        "category": "hospitality",
    },
    {
        "title": "Reservas de restaurante",
        "description": "Gestiona las reservas de mesas",
        "tags": ["reservas"],
        "category": "hospitality",
        "pricingModel": "ONE_TIME",
        "price": "49",
    },
    {
        "title": "Order questions",
        "description": "Answers questions about orders from any restaurant or shop",
        "tags": ["faq"],
        "pricingModel": "ONE_TIME",
        "price": "9.99",
    },
    {
        "title": "Lead capture",
        "description": "Collects emails",
        "tags": ["sales"],
        "kind": "TEMPLATE",
        "category": "sales",
        "pricingModel": "SUBSCRIPTION",
        "price": "15",
        "billingInterval": "MONTH",
    },
]


async def titles(client: GraphQL, **search: Any) -> list[str]:
    page = (await client(SEARCH, s=search))["marketplaceListings"]
    return [item["title"] for item in page["items"]]


async def test_search_relevance_filters_sorts_and_pages(
    api: httpx.AsyncClient, test_settings: Settings
) -> None:
    seller, buyer, bot, admin = await market(api, test_settings)
    ids = {
        entry["title"]: (await approved_listing(seller, admin, **entry))["id"]
        for entry in CATALOGUE
    }
    await seller(CREATE_LISTING, input=listing_input("Restaurant menu draft"))

    found = await titles(buyer, text="restaurant")
    assert set(found[:2]) == {"Restaurant reservations", "Reservas de restaurante"}
    assert found[2:] == ["Order questions"]  # only its description matches: ranked last
    assert await titles(buyer, text="reservas mesas") == ["Reservas de restaurante"]
    assert await titles(buyer, text="bookings") == ["Restaurant reservations"]
    assert await titles(buyer, text="booking") == ["Restaurant reservations"]  # by its tag
    assert await titles(buyer, text="submarine") == []
    assert "Restaurant menu draft" in await titles(seller, text="restaurant")

    assert await titles(buyer, kind="TEMPLATE") == ["Lead capture"]
    assert await titles(buyer, category="Hospitality", sort="PRICE") == [
        "Restaurant reservations",
        "Reservas de restaurante",
    ]
    assert await titles(buyer, pricingModel="ONE_TIME", sort="PRICE") == [
        "Order questions",
        "Reservas de restaurante",
    ]
    assert await titles(buyer, minPrice="9.99", maxPrice="15", sort="PRICE") == [
        "Order questions",
        "Lead capture",
    ]
    assert await titles(buyer, sort="NEWEST") == [entry["title"] for entry in CATALOGUE][::-1]

    feature = "mutation($id: ID!) { setListingFeatured(id: $id, featured: true) { featured } }"
    assert (await seller.error(feature, id=ids["Lead capture"]))["code"] == "FORBIDDEN"
    await admin(feature, id=ids["Lead capture"])
    assert await titles(buyer, featured=True) == ["Lead capture"]
    assert (await titles(buyer, sort="PRICE"))[0] == "Lead capture"  # featured come first
    assert (await titles(buyer, text="restaurant"))[-1] == "Order questions"
    await admin(feature.replace("true", "false"), id=ids["Lead capture"])

    await buyer(INSTALL, id=ids["Restaurant reservations"], bot=bot)
    review = (await buyer(REVIEW, id=ids["Restaurant reservations"], r=5))["reviewListing"]
    assert review["verified"] is True
    again = await buyer.error(REVIEW, id=ids["Restaurant reservations"], r=1)
    assert "already reviewed" in again["message"]
    other, _, _ = await organization(api, "Other")
    unverified = (await other(REVIEW, id=ids["Order questions"], r=2))["reviewListing"]
    assert unverified["verified"] is False
    await other(REVIEW, id=ids["Restaurant reservations"], r=4)
    assert (await other.error(REVIEW, id=ids["Lead capture"], r=6))["code"] == "BAD_USER_INPUT"
    assert (await seller.error(REVIEW, id=ids["Lead capture"], r=5))["code"] == "BAD_USER_INPUT"

    rated = (await buyer(SEARCH, s={"minRating": "4"}))["marketplaceListings"]["items"]
    assert rated == [
        {
            "title": "Restaurant reservations",
            "price": "0.00",
            "ratingAverage": "4.50",
            "ratingCount": 2,
        }
    ]
    assert (await titles(buyer, sort="POPULAR"))[0] == "Restaurant reservations"
    assert (await titles(buyer, sort="RATING"))[:2] == [
        "Restaurant reservations",
        "Order questions",
    ]

    vote = """mutation($id: ID!, $h: Boolean!) { voteReview(reviewId: $id, helpful: $h) {
      helpfulCount notHelpfulCount } }"""
    assert (await other(vote, id=review["id"], h=True))["voteReview"] == {
        "helpfulCount": 1,
        "notHelpfulCount": 0,
    }
    assert (await other(vote, id=review["id"], h=False))["voteReview"] == {
        "helpfulCount": 0,
        "notHelpfulCount": 1,
    }
    assert (await buyer.error(vote, id=review["id"], h=True))["code"] == "BAD_USER_INPUT"

    seen: list[str] = []
    after = None
    while True:
        page = await buyer(SEARCH, s={"sort": "NEWEST"}, first=3, after=after)
        seen += [item["title"] for item in page["marketplaceListings"]["items"]]
        after = page["marketplaceListings"]["nextCursor"]
        if after is None:
            break
    assert seen == [entry["title"] for entry in CATALOGUE][::-1]
    bad = await buyer.error(SEARCH, after="nonsense")
    assert bad["code"] == "BAD_USER_INPUT"
