"""Buying and installing marketplace listings.

A paid listing is bought through a Checkout Session on the platform's Stripe account; the
purchase row is written first (with the exact money split) and completes only when the
verified `checkout.session.completed` event arrives, which also issues its license key.
Installing copies the live version's content into the buyer's organization: flows as
unpublished drafts in a bot, a template as a private template, a bot as a new bot.
"""

from __future__ import annotations

import json
import secrets
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from flowlang.graph import FlowDefinition
from models.account_tables import OrganizationTemplate
from models.bot_tables import Bot
from models.errors import Forbidden, InvalidInput
from models.flow_tables import Flow
from models.marketplace_tables import Install, Listing, ListingVersion, Purchase, StripeEvent
from models.money import split
from services.flows import import_export as flow_io
from services.flows.drafts import sync_draft
from services.marketplace.listings import live_version

OWNING = ("paid", "past_due")  # purchases that entitle to installs and updates
DEFAULT_MAX_ACTIVATIONS = 3


def new_license_key() -> str:
    """A random key such as `BB-7F3A9-C21D0-9E4B7-00A1F` (80 random bits)."""
    raw = secrets.token_hex(10).upper()
    return "BB-" + "-".join(raw[i : i + 5] for i in range(0, 20, 5))


async def owning_purchase(
    session: AsyncSession, organization_id: uuid.UUID, listing_id: uuid.UUID
) -> Purchase | None:
    return await session.scalar(
        select(Purchase)
        .where(
            Purchase.listing_id == listing_id,
            Purchase.buyer_organization_id == organization_id,
            Purchase.status.in_(OWNING),
        )
        .order_by(Purchase.created_at.desc())
        .limit(1)
    )


async def start_purchase(
    session: AsyncSession,
    listing: Listing,
    organization_id: uuid.UUID,
    user_id: uuid.UUID | None,
    commission_percent: Decimal,
) -> Purchase:
    """The buyer's pending purchase of a paid listing (the open one again when asked twice)."""
    if listing.pricing_model == "free":
        raise InvalidInput("this listing is free: install it directly")
    if listing.organization_id == organization_id:
        raise InvalidInput("an organization cannot buy its own listing")
    if await owning_purchase(session, organization_id, listing.id) is not None:
        raise InvalidInput("your organization already owns this listing")
    open_one = await session.scalar(
        select(Purchase).where(
            Purchase.listing_id == listing.id,
            Purchase.buyer_organization_id == organization_id,
            Purchase.status == "pending",
        )
    )
    if open_one is not None:
        return open_one
    version = await live_version(session, listing)
    if version is None:
        raise InvalidInput("this listing has no approved version yet")
    commission, seller = split(listing.price_minor, commission_percent)
    purchase_id = uuid.uuid4()
    purchase = Purchase(
        id=purchase_id,
        listing_id=listing.id,
        version_id=version.id,
        buyer_organization_id=organization_id,
        buyer_user_id=user_id,
        pricing_model=listing.pricing_model,
        amount_minor=listing.price_minor,
        currency=listing.currency,
        commission_percent=commission_percent,
        commission_minor=commission,
        seller_revenue_minor=seller,
        idempotency_key=f"marketplace-purchase-{purchase_id}",
        max_activations=DEFAULT_MAX_ACTIVATIONS,
    )
    session.add(purchase)
    await session.flush()
    return purchase


async def first_time(session: AsyncSession, event_id: str, event_type: str) -> bool:
    """Record the event; False when it was processed before (a redelivery)."""
    inserted = await session.scalar(
        insert(StripeEvent)
        .values(event_id=event_id, type=event_type)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(StripeEvent.event_id)
    )
    return inserted is not None


async def apply_event(session: AsyncSession, event_type: str, obj: dict[str, Any]) -> None:
    """Change the purchase a platform Stripe event is about."""
    if event_type == "checkout.session.completed":
        await _complete_checkout(session, obj)
        return
    if event_type == "checkout.session.expired":  # unpaid in time: the next buy starts afresh
        purchase_id = _purchase_of(obj)
        if purchase_id:
            await session.execute(
                update(Purchase)
                .where(Purchase.id == purchase_id, Purchase.status == "pending")
                .values(status="expired")
            )
        return
    subscription = obj.get("subscription") if event_type.startswith("invoice.") else obj.get("id")
    status = {
        "invoice.paid": "paid",
        "invoice.payment_failed": "past_due",
        "customer.subscription.deleted": "cancelled",
    }.get(event_type)
    if status is None or not subscription:
        return
    await session.execute(
        update(Purchase)
        .where(
            Purchase.stripe_subscription_id == subscription,
            Purchase.status.in_(("paid", "past_due")),
        )
        .values(status=status)
    )


def _purchase_of(obj: dict[str, Any]) -> uuid.UUID | None:
    """The marketplace purchase a Checkout Session names (other sessions name none)."""
    try:
        return uuid.UUID(str((obj.get("metadata") or {})["purchase_id"]))
    except (KeyError, ValueError):
        return None


async def _complete_checkout(session: AsyncSession, obj: dict[str, Any]) -> None:
    purchase_id = _purchase_of(obj)
    if not purchase_id or obj.get("payment_status") not in ("paid", "no_payment_required"):
        return
    await session.execute(
        update(Purchase)
        .where(Purchase.id == purchase_id, Purchase.status == "pending")
        .values(
            status="paid",
            paid_at=func.now(),
            license_key=new_license_key(),
            stripe_session_id=obj.get("id"),
            stripe_payment_intent_id=obj.get("payment_intent"),
            stripe_subscription_id=obj.get("subscription"),
        )
    )


async def request_refund(
    session: AsyncSession, listing: Listing, organization_id: uuid.UUID, reason: str
) -> Purchase:
    """Record the buyer's request to refund its purchase of the listing, for an admin."""
    purchase = await owning_purchase(session, organization_id, listing.id)
    if purchase is None:
        raise InvalidInput("your organization has no paid purchase of this listing to refund")
    if not reason.strip():
        raise InvalidInput("say why you want a refund")
    purchase.refund_requested_at = func.now()
    purchase.refund_reason = reason.strip()[:2000]
    await session.flush()
    await session.refresh(purchase)
    return purchase


async def activate_license(
    session: AsyncSession, organization_id: uuid.UUID, license_key: str
) -> Purchase:
    """Count one activation of the organization's license, refused beyond its maximum or
    once it no longer entitles (refunded, cancelled)."""
    purchase = await session.scalar(
        update(Purchase)
        .where(
            Purchase.license_key == license_key.strip(),
            Purchase.buyer_organization_id == organization_id,
            Purchase.status.in_(OWNING),
            Purchase.activations < Purchase.max_activations,
        )
        .values(activations=Purchase.activations + 1)
        .returning(Purchase)
    )
    if purchase is None:
        raise InvalidInput("this license key is unknown, no longer valid or fully activated")
    return purchase


async def install(
    session: AsyncSession,
    listing: Listing,
    organization_id: uuid.UUID,
    user_id: uuid.UUID | None,
    bot: Bot | None,
) -> Install:
    """Copy the live version into the organization (free, bought, or the seller's own)."""
    purchase = None
    if listing.pricing_model != "free" and listing.organization_id != organization_id:
        purchase = await owning_purchase(session, organization_id, listing.id)
        if purchase is None:
            raise Forbidden("buy this listing before installing it")
    version = await live_version(session, listing)
    if version is None:
        raise InvalidInput("this listing has no approved version yet")
    row = Install(
        listing_id=listing.id,
        version_id=version.id,
        organization_id=organization_id,
        purchase_id=purchase.id if purchase else None,
        installed_by=user_id,
    )
    await _copy(session, listing.kind, version, organization_id, user_id, bot, row)
    session.add(row)
    await session.execute(
        update(Listing)
        .where(Listing.id == listing.id)
        .values(install_count=Listing.install_count + 1)
    )
    await session.flush()
    return row


async def _copy(
    session: AsyncSession,
    kind: str,
    version: ListingVersion,
    organization_id: uuid.UUID,
    user_id: uuid.UUID | None,
    bot: Bot | None,
    row: Install,
) -> None:
    if kind == "bot":
        config = flow_io.read_bot_file(json.dumps(version.content).encode(), "content")
        new_bot, flows = await flow_io.import_bot(
            session, organization_id, config, publish_them=False, created_by=user_id
        )
        row.bot_id, row.flow_ids = new_bot.id, [str(flow.id) for flow in flows]
        return
    flows = _flows_of(kind, version)
    if kind == "template":
        definition = flows[0]
        template = OrganizationTemplate(
            organization_id=organization_id,
            name=definition.name,
            description=definition.description,
            definition=_graph(definition),
            created_by=user_id,
        )
        session.add(template)
        await session.flush()
        row.template_id = template.id
        return
    if bot is None:
        raise InvalidInput("name the bot to install the flows into (botId)")
    created = await flow_io.import_flows(
        session, bot, flows, publish_them=False, created_by=user_id
    )
    row.bot_id, row.flow_ids = bot.id, [str(flow.id) for flow in created]


def _graph(definition: FlowDefinition) -> dict[str, Any]:
    data = definition.to_json()
    return {key: data.get(key) for key in ("nodes", "edges", "variables")}


def _flows_of(kind: str, version: ListingVersion) -> list[FlowDefinition]:
    data = json.dumps(version.content).encode()
    if kind == "bot":
        return flow_io.read_bot_file(data, "content").flows
    return flow_io.read_flows_file(data, "content")


async def update_install(
    session: AsyncSession, listing: Listing, organization_id: uuid.UUID, user_id: uuid.UUID | None
) -> Install:
    """Bring the organization's latest install of a flow or bot listing to the newest approved
    version. A flow nobody edited since the install takes the new version in place; an edited
    one is left as it is, a separate draft, and the new version arrives next to it as
    `Name (vX.Y.Z)`. Refunded or cancelled purchases get no updates."""
    if listing.kind == "template":
        raise InvalidInput("a template is copied once; install the new version instead")
    latest = await session.scalar(
        select(Install)
        .where(Install.listing_id == listing.id, Install.organization_id == organization_id)
        .order_by(Install.created_at.desc())
        .limit(1)
    )
    if latest is None or latest.bot_id is None:
        raise InvalidInput("your organization has not installed this listing")
    purchase = None
    if listing.pricing_model != "free" and listing.organization_id != organization_id:
        purchase = await owning_purchase(session, organization_id, listing.id)
        if purchase is None:
            raise Forbidden("updates stop once a purchase is refunded or cancelled")
    version = await live_version(session, listing)
    if version is None or version.id == latest.version_id:
        raise InvalidInput("the install is already at the newest approved version")
    bot = await session.get_one(Bot, latest.bot_id)
    old_version = await session.get_one(ListingVersion, latest.version_id)
    installed = {
        definition.name: await session.get(Flow, uuid.UUID(flow_id))
        for definition, flow_id in zip(
            _flows_of(listing.kind, old_version), latest.flow_ids, strict=False
        )
    }
    old_graphs = {d.name: _graph(d) for d in _flows_of(listing.kind, old_version)}
    flow_ids = []
    for definition in _flows_of(listing.kind, version):
        flow = installed.get(definition.name)
        untouched = flow is not None and _graph(flow_io.flow_definition(flow)) == old_graphs.get(
            definition.name
        )
        if flow is not None and untouched:
            sync_draft(flow, definition.to_json())
        else:
            if flow is not None:
                definition = definition.model_copy(
                    update={"name": f"{definition.name} (v{version.version})"}
                )
            [flow] = await flow_io.import_flows(
                session, bot, [definition], publish_them=False, created_by=user_id
            )
        flow_ids.append(str(flow.id))
    row = Install(
        listing_id=listing.id,
        version_id=version.id,
        organization_id=organization_id,
        purchase_id=purchase.id if purchase else None,
        bot_id=bot.id,
        flow_ids=flow_ids,
        installed_by=user_id,
    )
    session.add(row)
    await session.flush()
    return row
