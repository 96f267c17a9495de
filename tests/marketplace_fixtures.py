"""Helpers of the marketplace tests: organizations over GraphQL, listings, a platform admin."""

from __future__ import annotations

from typing import Any

import httpx

from models.settings import Settings
from stack.admin import set_platform_admin
from tests.api_fixtures import CREATE_BOT
from tests.api_fixtures import greeting_flow as flow_graph
from tests.graphql_client import GraphQL, sign_up

LISTING_FIELDS = """id slug kind title status rejectionReason featured pricingModel price currency
  billingInterval trialDays ratingAverage ratingCount installCount viewCount tags
  versions { version approved }"""
CREATE_LISTING = f"""mutation($input: ListingInput!) {{ createListing(input: $input) {{
  {LISTING_FIELDS} }} }}"""
SUBMIT = "mutation($id: ID!) { submitListing(id: $id) { status } }"
APPROVE = "mutation($id: ID!) { approveListing(id: $id) { status } }"
PURCHASE_FIELDS = """id status amount currency commissionPercent commission sellerRevenue
  checkoutUrl stripeSessionId licenseKey maxActivations activations versionId"""
BUY = f"mutation($id: ID!) {{ buyListing(listingId: $id) {{ {PURCHASE_FIELDS} }} }}"
INSTALL = """mutation($id: ID!, $bot: ID) { installListing(listingId: $id, botId: $bot) {
  id versionId botId flowIds templateId } }"""


def flow_export(name: str, text: str = "Hello!") -> dict[str, Any]:
    """A flow export file, as the export endpoint writes it."""
    flow = {"name": name, "description": "", **flow_graph(text)}
    return {"version": "1.0.0", "exportDate": "2026-11-26T00:00:00Z", "flow": flow}


def listing_input(title: str, **changes: Any) -> dict[str, Any]:
    return {
        "kind": "FLOW",
        "title": title,
        "category": "support",
        "description": f"{title} for your bot",
        "content": flow_export(title),
        **changes,
    }


async def organization(api: httpx.AsyncClient, name: str) -> tuple[GraphQL, str, str]:
    """An owner's client, their email and a bot of a new organization."""
    owner, payload = await sign_up(api, org=name)
    bot = (await owner(CREATE_BOT, name=f"{name} bot"))["createBot"]["id"]
    return owner, payload["member"]["user"]["email"], bot


async def platform_admin(api: httpx.AsyncClient, settings: Settings) -> GraphQL:
    """A user of the platform's own organization, granted the role as `botbuilder admin
    grant` does."""
    admin, payload = await sign_up(api, org="Platform")
    assert settings.database_url is not None
    assert await set_platform_admin(settings.database_url, payload["member"]["user"]["email"], True)
    return admin


async def approved_listing(seller: GraphQL, admin: GraphQL, **fields: Any) -> dict[str, Any]:
    """A listing created, submitted and approved; its fields after approval."""
    listing = (await seller(CREATE_LISTING, input=listing_input(**fields)))["createListing"]
    await seller(SUBMIT, id=listing["id"])
    await admin(APPROVE, id=listing["id"])
    return listing


async def market(
    api: httpx.AsyncClient, settings: Settings
) -> tuple[GraphQL, GraphQL, str, GraphQL]:
    """A seller's owner, a buyer's owner and the buyer's bot, and a platform admin."""
    seller, _, _ = await organization(api, "Seller")
    buyer, _, bot = await organization(api, "Buyer")
    return seller, buyer, bot, await platform_admin(api, settings)
