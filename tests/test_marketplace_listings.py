"""Marketplace listings: content checked on submit, the review lifecycle and who approves it,
visibility to other organizations, and a free install copying flows unpublished."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from models.settings import Settings
from stack.cli import main
from tests.api_fixtures import UPDATE_DRAFT
from tests.api_fixtures import greeting_flow as flow_graph
from tests.marketplace_fixtures import (
    APPROVE,
    CREATE_LISTING,
    INSTALL,
    SUBMIT,
    approved_listing,
    flow_export,
    listing_input,
    market,
    organization,
    platform_admin,
)

LISTING = "query($id: ID!) { marketplaceListing(id: $id) { title status viewCount } }"
ALL = "query { marketplaceListings { items { title } nextCursor } }"


async def test_content_that_would_not_import_is_refused_with_reasons(
    api: httpx.AsyncClient,
) -> None:
    seller, _, _ = await organization(api, "Seller")
    broken = flow_export("Broken")
    broken["flow"]["edges"].append({"id": "e9", "source": "hi", "target": "nowhere"})
    error = await seller.error(CREATE_LISTING, input=listing_input("Broken", content=broken))
    assert error["code"] == "BAD_USER_INPUT"
    assert "cannot be imported" in error["message"] and "nowhere" in error["message"]
    assert error["extensions"]["problems"]
    bot_file = await seller.error(
        CREATE_LISTING, input=listing_input("Bot", kind="BOT", content=flow_export("x"))
    )
    assert bot_file["code"] == "BAD_USER_INPUT" and "bot" in bot_file["message"]
    assert (await seller("query { myListings { id } }"))["myListings"] == []


async def test_review_lifecycle_and_who_may_approve(
    api: httpx.AsyncClient, test_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    seller, seller_email, _ = await organization(api, "Seller")
    buyer, _, _ = await organization(api, "Buyer")
    admin = await platform_admin(api, test_settings)
    created = await seller(CREATE_LISTING, input=listing_input("Order tracking"))
    listing = created["createListing"]
    assert listing["status"] == "DRAFT" and listing["slug"] == "order-tracking"
    assert listing["versions"] == [{"version": "1.0.0", "approved": False}]

    assert (await buyer.error(LISTING, id=listing["id"]))["code"] == "NOT_FOUND"
    assert (await admin.error(APPROVE, id=listing["id"]))["message"].startswith("a draft")
    await seller(SUBMIT, id=listing["id"])
    assert (await seller.error(APPROVE, id=listing["id"]))["code"] == "FORBIDDEN"
    assert test_settings.database_url
    monkeypatch.setenv("DATABASE_URL", test_settings.database_url)
    for email, code in (("nobody@example.com", 1), (seller_email.upper(), 0)):
        with pytest.raises(SystemExit) as exited:
            await asyncio.to_thread(main, ["admin", "grant", email])
        assert exited.value.code == code
    own = await seller.error(APPROVE, id=listing["id"])
    assert own["code"] == "FORBIDDEN" and "seller" in own["message"]
    assert (await buyer.error(LISTING, id=listing["id"]))["code"] == "NOT_FOUND"

    reject = "mutation($id: ID!, $r: String!) { rejectListing(id: $id, reason: $r) { status } }"
    assert (await admin.error(reject, id=listing["id"], r=" "))["code"] == "BAD_USER_INPUT"
    await admin(reject, id=listing["id"], r="Screenshots missing")
    mine = (await seller("query { myListings { status rejectionReason } }"))["myListings"]
    assert mine == [{"status": "REJECTED", "rejectionReason": "Screenshots missing"}]
    assert (await buyer(ALL))["marketplaceListings"]["items"] == []

    await seller(SUBMIT, id=listing["id"])
    assert (await admin(APPROVE, id=listing["id"]))["approveListing"]["status"] == "APPROVED"
    seen = (await buyer(LISTING, id=listing["id"]))["marketplaceListing"]
    assert seen == {"title": "Order tracking", "status": "APPROVED", "viewCount": 1}
    assert (await buyer(ALL))["marketplaceListings"]["items"] == [{"title": "Order tracking"}]

    update = """mutation($id: ID!, $input: ListingUpdate!) { updateListing(id: $id, input: $input) {
      title status pricingModel price currency tags } }"""
    bad = await seller.error(update, id=listing["id"], input={"pricingModel": "ONE_TIME"})
    assert "needs a price" in bad["message"]
    changed = await seller(
        update,
        id=listing["id"],
        input={
            "title": "Order tracking Pro",
            "pricingModel": "ONE_TIME",
            "price": "5.50",
            "tags": ["Orders"],
        },
    )
    assert changed["updateListing"] == {
        "title": "Order tracking Pro",
        "status": "PENDING_REVIEW",
        "pricingModel": "ONE_TIME",
        "price": "5.50",
        "currency": "USD",
        "tags": ["orders"],
    }
    assert (await buyer(LISTING, id=listing["id"]))["marketplaceListing"]["status"] == (
        "PENDING_REVIEW"
    )  # still on sale while the change is reviewed
    await admin(APPROVE, id=listing["id"])

    suspend = 'mutation($id: ID!) { suspendListing(id: $id, reason: "abuse") { status } }'
    await admin(suspend, id=listing["id"])
    assert (await buyer.error(LISTING, id=listing["id"]))["code"] == "NOT_FOUND"
    assert (await buyer(ALL))["marketplaceListings"]["items"] == []


async def test_free_install_copies_unpublished_flows_at_the_approved_version(
    api: httpx.AsyncClient, test_settings: Settings
) -> None:
    seller, buyer, bot, admin = await market(api, test_settings)
    listing = await approved_listing(seller, admin, title="Welcome pack")
    newer = """mutation($id: ID!, $c: JSON!) { addListingVersion(listingId: $id, version: "1.1.0",
      content: $c, changelog: "Warmer") { status versions { version approved } } }"""
    changed = await seller(newer, id=listing["id"], c=flow_export("Welcome pack", "Hi!"))
    assert changed["addListingVersion"]["versions"][1] == {"version": "1.1.0", "approved": False}
    older = await seller.error(
        newer.replace("1.1.0", "1.0.5"), id=listing["id"], c=flow_export("Welcome pack")
    )
    assert "not newer" in older["message"]

    installed = (await buyer(INSTALL, id=listing["id"], bot=bot))["installListing"]
    flows = await buyer(
        "query($b: ID!) { bot(id: $b) { flows { id name publishedVersionId definition } } }",
        b=bot,
    )
    [flow] = flows["bot"]["flows"]
    assert installed["flowIds"] == [flow["id"]] and installed["botId"] == bot
    assert flow["name"] == "Welcome pack" and flow["publishedVersionId"] is None
    assert flow["definition"]["nodes"][0]["data"]["content"] == "Hello!"  # 1.0.0, approved

    await admin(APPROVE, id=listing["id"])
    again = (await buyer(INSTALL, id=listing["id"], bot=bot))["installListing"]
    assert again["versionId"] != installed["versionId"]
    names = await buyer("query($b: ID!) { bot(id: $b) { flows { name } } }", b=bot)
    assert sorted(f["name"] for f in names["bot"]["flows"]) == [
        "Welcome pack",
        "Welcome pack (imported)",
    ]
    count = "query($id: ID!) { marketplaceListing(id: $id) { installCount } }"
    assert (await seller(count, id=listing["id"]))["marketplaceListing"]["installCount"] == 2


def bot_config(greeting: str, closing: str) -> dict:
    """A bot configuration file with two flows."""
    flows = [
        {"name": name, "description": "", **flow_graph(text)}
        for name, text in (("Greeting", greeting), ("Closing", closing))
    ]
    bot = {"name": "Shop bot", "description": "", "settings": {}, "defaultFlow": "Greeting"}
    return {"version": "1.0.0", "exportDate": "2026-11-26T00:00:00Z", "bot": bot, "flows": flows}


async def test_update_keeps_local_edits_as_a_separate_draft(
    api: httpx.AsyncClient, test_settings: Settings
) -> None:
    seller, buyer, _, admin = await market(api, test_settings)
    listing = await approved_listing(
        seller, admin, title="Shop bot", kind="BOT", content=bot_config("Hello", "Bye")
    )
    update = "mutation($id: ID!) { updateInstalledListing(listingId: $id) { versionId flowIds } }"
    installed = (await buyer(INSTALL, id=listing["id"]))["installListing"]
    assert len(installed["flowIds"]) == 2
    assert "newest" in (await buyer.error(update, id=listing["id"]))["message"]
    greeting = installed["flowIds"][0]
    edited = flow_graph("Hello from our shop")
    await buyer(UPDATE_DRAFT, id=greeting, input={"definition": edited})

    newer = """mutation($id: ID!, $c: JSON!) { addListingVersion(listingId: $id, version: "2.0.0",
      content: $c) { status } }"""
    await seller(newer, id=listing["id"], c=bot_config("Welcome", "See you"))
    await admin(APPROVE, id=listing["id"])
    updated = (await buyer(update, id=listing["id"]))["updateInstalledListing"]
    assert updated["versionId"] != installed["versionId"]
    flows = await buyer(
        "query($b: ID!) { bot(id: $b) { flows { id name definition publishedVersionId } } }",
        b=installed["botId"],
    )
    texts = {
        f["name"]: (f["definition"]["nodes"][0]["data"]["content"], f["publishedVersionId"])
        for f in flows["bot"]["flows"]
    }
    assert texts == {
        "Greeting": ("Hello from our shop", None),  # the buyer's edit, kept
        "Greeting (v2.0.0)": ("Welcome", None),  # the update, next to it
        "Closing": ("See you", None),  # unedited: updated in place
    }
    assert updated["flowIds"][1] == installed["flowIds"][1]


async def test_a_template_installs_as_a_private_template(
    api: httpx.AsyncClient, test_settings: Settings
) -> None:
    seller, buyer, _, admin = await market(api, test_settings)
    listing = await approved_listing(seller, admin, title="Survey", kind="TEMPLATE")
    flow_listing = await approved_listing(seller, admin, title="Greeter")
    no_bot = await buyer.error(INSTALL, id=flow_listing["id"])
    assert no_bot["code"] == "BAD_USER_INPUT" and "botId" in no_bot["message"]
    installed = (await buyer(INSTALL, id=listing["id"]))["installListing"]
    templates = (await buyer("query { templates { id name builtIn nodeCount } }"))["templates"]
    assert {
        "id": installed["templateId"],
        "name": "Survey",
        "builtIn": False,
        "nodeCount": 2,
    } in templates
