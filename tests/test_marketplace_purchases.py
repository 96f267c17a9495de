"""Paid marketplace listings on the platform's Stripe account (the fake Stripe API): checkout
with an idempotency key, the signed `checkout.session.completed` webhook completing the
purchase once, its license, the install, subscriptions' events and an admin's refund."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from models.errors import InvalidInput
from models.money import from_minor, split, to_minor
from models.settings import Settings
from tests.conftest import PLATFORM_STRIPE_KEY, PLATFORM_WEBHOOK_SECRET
from tests.fake_stripe import FakeStripe
from tests.graphql_client import GraphQL
from tests.marketplace_fixtures import (
    BUY,
    INSTALL,
    PURCHASE_FIELDS,
    approved_listing,
    market,
)

WEBHOOK = "/webhooks/stripe/marketplace"
ANALYTICS = """query($since: DateTime!, $until: DateTime!) {
  sellerAnalytics(since: $since, until: $until, period: DAY) {
    sales { start currency sales gross commission net } activity { start views installs }
    topListings { title sales installs } } }"""
PURCHASES = f"query {{ myPurchases {{ {PURCHASE_FIELDS} stripeSubscriptionId }} }}"


@pytest.fixture
def stripe_api(fake_stripe: FakeStripe) -> FakeStripe:
    fake_stripe.reset()
    fake_stripe.keys.add(PLATFORM_STRIPE_KEY)
    return fake_stripe


def days_from_now(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def deliver(api: httpx.AsyncClient, payload: bytes, signature: str) -> httpx.Response:
    headers = {"Stripe-Signature": signature, "Content-Type": "application/json"}
    return await api.post(WEBHOOK, content=payload, headers=headers)


async def only_purchase(buyer: GraphQL) -> dict:
    """The buyer's newest purchase."""
    return (await buyer(PURCHASES))["myPurchases"][0]


async def test_one_time_purchase_end_to_end(
    api: httpx.AsyncClient, test_settings: Settings, stripe_api: FakeStripe
) -> None:
    seller, buyer, bot, admin = await market(api, test_settings)
    listing = await approved_listing(
        seller,
        admin,
        title="Booking flow",
        pricingModel="ONE_TIME",
        price="19.99",
        currency="eur",
    )

    for viewer in (buyer, buyer, seller):  # the seller's own looks do not count
        await viewer("query($id: ID!) { marketplaceListing(id: $id) { id } }", id=listing["id"])
    refused = await buyer.error(INSTALL, id=listing["id"], bot=bot)
    assert refused["code"] == "FORBIDDEN" and "buy" in refused["message"]
    bought = (await buyer(BUY, id=listing["id"]))["buyListing"]
    assert bought["status"] == "PENDING" and bought["licenseKey"] is None
    assert (bought["amount"], bought["currency"]) == ("19.99", "EUR")
    assert (bought["commission"], bought["sellerRevenue"]) == ("4.00", "15.99")
    assert bought["commissionPercent"] == "20.00"
    session = stripe_api.sessions[bought["stripeSessionId"]]
    assert bought["checkoutUrl"] == session["url"]
    assert session["mode"] == "payment" and session["amount_total"] == 1999
    assert session["metadata"]["purchase_id"] == bought["id"]
    assert f"marketplace-purchase-{bought['id']}" in stripe_api.by_idempotency_key
    again = (await buyer(BUY, id=listing["id"]))["buyListing"]
    assert again["id"] == bought["id"] and len(stripe_api.sessions) == 1

    forged = stripe_api.signed_event(
        "checkout.session.completed", session["id"], "whsec_wrong", payment_status="paid"
    )
    assert (await deliver(api, *forged)).status_code == 400
    stale = stripe_api.signed_event(
        "checkout.session.completed",
        session["id"],
        PLATFORM_WEBHOOK_SECRET,
        at=1,
        payment_status="paid",
    )
    assert (await deliver(api, *stale)).status_code == 400
    assert (await only_purchase(buyer))["status"] == "PENDING"

    paid = stripe_api.signed_event(
        "checkout.session.completed",
        session["id"],
        PLATFORM_WEBHOOK_SECRET,
        payment_status="paid",
        status="complete",
    )
    assert (await deliver(api, *paid)).status_code == 204
    purchase = await only_purchase(buyer)
    assert purchase["status"] == "PAID" and purchase["checkoutUrl"] is None
    assert re.fullmatch(r"BB(-[0-9A-F]{5}){4}", purchase["licenseKey"])
    assert (await deliver(api, *paid)).status_code == 204  # Stripe delivered it twice
    assert await only_purchase(buyer) == purchase  # the same license key: processed once

    installed = (await buyer(INSTALL, id=listing["id"], bot=bot))["installListing"]
    assert installed["versionId"] == purchase["versionId"] and len(installed["flowIds"]) == 1
    owned = await buyer.error(BUY, id=listing["id"])
    assert "already owns" in owned["message"]

    activate = """mutation($k: String!) { activateLicense(licenseKey: $k) { activations
      maxActivations } }"""
    for count in (1, 2, 3):
        result = await buyer(activate, k=purchase["licenseKey"])
        assert result["activateLicense"] == {"activations": count, "maxActivations": 3}
    assert "fully activated" in (await buyer.error(activate, k=purchase["licenseKey"]))["message"]
    assert (await seller.error(activate, k=purchase["licenseKey"]))["code"] == "BAD_USER_INPUT"

    figures = await seller(ANALYTICS, since=days_from_now(-1), until=days_from_now(1))
    today = datetime.now(UTC).strftime("%Y-%m-%dT00:00:00+00:00")
    assert figures["sellerAnalytics"] == {
        "sales": [
            {
                "start": today,
                "currency": "EUR",
                "sales": 1,
                "gross": "19.99",
                "commission": "4.00",
                "net": "15.99",
            }
        ],
        "activity": [{"start": today, "views": 2, "installs": 1}],
        "topListings": [{"title": "Booking flow", "sales": 1, "installs": 1}],
    }

    ask = """mutation($id: ID!) { requestRefund(listingId: $id, reason: "Not what we need") {
      refundReason } }"""
    assert (await buyer(ask, id=listing["id"]))["requestRefund"]["refundReason"] == (
        "Not what we need"
    )
    queue = "query { refundRequests { id refundReason } }"
    assert (await buyer.error(queue))["code"] == "FORBIDDEN"
    assert (await admin(queue))["refundRequests"] == [
        {"id": purchase["id"], "refundReason": "Not what we need"}
    ]
    refund = """mutation($id: ID!) { refundPurchase(purchaseId: $id) { status
      stripeRefundId } }"""
    assert (await buyer.error(refund, id=purchase["id"]))["code"] == "FORBIDDEN"
    refunded = (await admin(refund, id=purchase["id"]))["refundPurchase"]
    assert refunded == {"status": "REFUNDED", "stripeRefundId": stripe_api.refunds[0]["id"]}
    assert (await admin(queue))["refundRequests"] == []
    assert [r["payment_intent"] for r in stripe_api.refunds] == [session["payment_intent"]]
    after = await seller(ANALYTICS, since=days_from_now(-1), until=days_from_now(1))
    assert after["sellerAnalytics"]["sales"] == []  # a refund is no revenue
    names = await buyer("query($b: ID!) { bot(id: $b) { flows { name } } }", b=bot)
    assert names["bot"]["flows"] == [{"name": "Booking flow"}]  # stays installed
    updates = await buyer.error(INSTALL, id=listing["id"], bot=bot)
    assert updates["code"] == "FORBIDDEN"  # but gets no more versions


async def test_subscription_renewal_past_due_and_cancellation(
    api: httpx.AsyncClient, test_settings: Settings, stripe_api: FakeStripe
) -> None:
    seller, buyer, bot, admin = await market(api, test_settings)
    listing = await approved_listing(
        seller,
        admin,
        title="Lead scoring",
        pricingModel="SUBSCRIPTION",
        price="15",
        billingInterval="MONTH",
        trialDays=7,
    )
    abandoned = (await buyer(BUY, id=listing["id"]))["buyListing"]
    expired = stripe_api.signed_event(
        "checkout.session.expired", abandoned["stripeSessionId"], PLATFORM_WEBHOOK_SECRET
    )
    assert (await deliver(api, *expired)).status_code == 204
    assert (await only_purchase(buyer))["status"] == "EXPIRED"
    bought = (await buyer(BUY, id=listing["id"]))["buyListing"]
    assert bought["id"] != abandoned["id"] and bought["status"] == "PENDING"
    assert stripe_api.sessions[bought["stripeSessionId"]]["mode"] == "subscription"
    sent = stripe_api.sent[-1]
    assert sent["line_items[0][price_data][recurring][interval]"] == "month"
    assert sent["subscription_data[trial_period_days]"] == "7"

    def event(kind: str, **changes: object) -> tuple[bytes, str]:
        return stripe_api.signed_event(
            kind, bought["stripeSessionId"], PLATFORM_WEBHOOK_SECRET, **changes
        )

    await deliver(
        api, *event("checkout.session.completed", payment_status="paid", subscription="sub_42")
    )
    assert (await only_purchase(buyer))["stripeSubscriptionId"] == "sub_42"
    for kind, status in (("invoice.payment_failed", "PAST_DUE"), ("invoice.paid", "PAID")):
        assert (await deliver(api, *event(kind, subscription="sub_42"))).status_code == 204
        assert (await only_purchase(buyer))["status"] == status
    await buyer(INSTALL, id=listing["id"], bot=bot)
    await deliver(api, *event("customer.subscription.deleted", id="sub_42"))
    assert (await only_purchase(buyer))["status"] == "CANCELLED"
    assert (await buyer.error(INSTALL, id=listing["id"], bot=bot))["code"] == "FORBIDDEN"


def test_money_is_exact_to_the_cent() -> None:
    assert to_minor("19.99", "eur") == 1999
    assert to_minor(Decimal("0.1") + Decimal("0.2"), "usd") == 30
    assert to_minor("500", "jpy") == 500 and from_minor(500, "jpy") == Decimal(500)
    assert from_minor(1999, "eur") == Decimal("19.99")
    assert split(1999, Decimal(20)) == (400, 1599)
    assert split(1, Decimal(20)) == (0, 1)
    assert split(3, Decimal(50)) == (2, 1)  # half a cent rounds up, to the platform
    assert split(999, Decimal("12.5")) == (125, 874)
    for price in range(0, 100_000, 7):
        commission, seller = split(price, Decimal("20"))
        assert commission + seller == price and abs(commission * 5 - price) <= 3
    for bad, currency in (
        ("19.999", "eur"),
        ("-1", "usd"),
        ("1.5", "jpy"),
        ("abc", "usd"),
        ("NaN", "usd"),
        ("1000000", "usd"),
    ):
        with pytest.raises(InvalidInput):
            to_minor(bad, currency)
