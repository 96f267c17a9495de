"""The marketplace's listings: creation with validated content, versions, the review lifecycle
(draft → pending_review → approved / rejected → suspended) and who may see what.

Only approved listings are visible outside the seller's organization; only platform admins
(`users.platform_admin`) approve, reject, suspend or feature, and never a listing of an
organization they belong to.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Date, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.errors import Forbidden, InvalidInput, NotFound
from models.marketplace_tables import (
    BILLING_INTERVALS,
    LISTING_KINDS,
    Listing,
    ListingVersion,
    ListingViews,
)
from models.money import checked_currency, from_minor, to_minor
from models.tenancy_tables import Membership, User
from services.flows import import_export as flow_io

MAX_LIST_ITEMS, MAX_TITLE = 20, 120
REVIEWABLE = ("draft", "rejected")


@dataclass
class ListingFields:
    """What a seller describes; `price` is a decimal amount in `currency` (0 for free)."""

    kind: str
    title: str
    description: str
    category: str
    pricing_model: str = "free"
    price: Decimal = Decimal(0)
    currency: str = "usd"
    billing_interval: str | None = None
    trial_days: int = 0
    slug: str | None = None
    tags: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)


def checked_content(kind: str, content: Any) -> dict[str, Any]:
    """The content when it would import: a flow export for flows and templates, a bot
    configuration for bots; else `ImportProblems` with every reason."""
    if not isinstance(content, dict):
        raise InvalidInput("the content must be an export file's JSON object")
    data = json.dumps(content).encode()
    if kind == "bot":
        flow_io.read_bot_file(data, "content")
    else:
        flow_io.read_flows_file(data, "content")
    return content


def _checked_list(name: str, values: list[str], urls: bool = False) -> list[str]:
    cleaned = [value.strip() for value in values if value.strip()]
    if len(cleaned) > MAX_LIST_ITEMS:
        raise InvalidInput(f"at most {MAX_LIST_ITEMS} {name}")
    for value in cleaned if urls else ():
        if not re.fullmatch(r"https?://\S+", value):
            raise InvalidInput(f"image {value!r} is not an http(s) URL")
    return cleaned


def checked_fields(fields: ListingFields) -> dict[str, Any]:
    """The listing's column values, or `InvalidInput` saying what is wrong."""
    if fields.kind not in LISTING_KINDS:
        raise InvalidInput(f"unknown kind {fields.kind!r}; expected {', '.join(LISTING_KINDS)}")
    title = fields.title.strip()
    if not title or len(title) > MAX_TITLE:
        raise InvalidInput(f"the title must have 1 to {MAX_TITLE} characters")
    if not fields.category.strip():
        raise InvalidInput("give the listing a category")
    currency = checked_currency(fields.currency)
    price = to_minor(fields.price, currency)
    interval = fields.billing_interval
    if fields.pricing_model == "free":
        if price:
            raise InvalidInput("a free listing has no price; choose one_time or subscription")
        interval = None
    elif fields.pricing_model in ("one_time", "subscription"):
        if not price:
            raise InvalidInput(f"a {fields.pricing_model} listing needs a price above zero")
    else:
        raise InvalidInput(f"unknown pricing model {fields.pricing_model!r}")
    if fields.pricing_model == "subscription":
        if interval not in BILLING_INTERVALS:
            raise InvalidInput("a subscription is billed by `month` or `year`")
    else:
        interval = None
    if not 0 <= fields.trial_days <= 365 or (fields.trial_days and interval is None):
        raise InvalidInput("trial days (0 to 365) are for subscriptions only")
    tags = [tag.lower() for tag in _checked_list("tags", fields.tags)]
    return {
        "kind": fields.kind,
        "title": title,
        "description": fields.description.strip(),
        "category": fields.category.strip().lower(),
        "pricing_model": fields.pricing_model,
        "price_minor": price,
        "currency": currency,
        "billing_interval": interval,
        "trial_days": fields.trial_days,
        "tags": tags,
        "search_tags": " ".join(tags),
        "images": _checked_list("images", fields.images, urls=True),
        "features": _checked_list("features", fields.features),
        "requirements": _checked_list("requirements", fields.requirements),
    }


async def _free_slug(session: AsyncSession, wanted: str | None, title: str) -> str:
    if wanted is not None:
        slug = wanted.strip().lower()
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug) or len(slug) > 80:
            raise InvalidInput(f"slug {wanted!r}: use lowercase letters, digits and dashes")
        if await session.scalar(select(Listing.id).where(Listing.slug == slug)):
            raise InvalidInput(f"the slug {slug!r} is taken")
        return slug
    base = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "listing"
    slug = base
    while await session.scalar(select(Listing.id).where(Listing.slug == slug)):
        slug = f"{base}-{secrets.token_hex(2)}"
    return slug


def _checked_version(version: str) -> str:
    if not re.fullmatch(r"\d+\.\d+\.\d+", version.strip()):
        raise InvalidInput(f"version {version!r}: use MAJOR.MINOR.PATCH, e.g. 1.0.0")
    return version.strip()


async def create_listing(
    session: AsyncSession,
    organization_id: uuid.UUID,
    user_id: uuid.UUID | None,
    fields: ListingFields,
    version: str,
    changelog: str,
    content: Any,
) -> Listing:
    """A draft listing with its first version."""
    values = checked_fields(fields)
    checked_content(fields.kind, content)
    slug = await _free_slug(session, fields.slug, values["title"])
    listing = Listing(organization_id=organization_id, created_by=user_id, slug=slug, **values)
    session.add(listing)
    await session.flush()
    session.add(
        ListingVersion(
            listing_id=listing.id,
            version=_checked_version(version),
            changelog=changelog,
            content=content,
        )
    )
    await session.flush()
    await session.refresh(listing)
    return listing


def current_fields(listing: Listing) -> ListingFields:
    """The listing's description as a seller would give it again."""
    return ListingFields(
        kind=listing.kind,
        title=listing.title,
        description=listing.description,
        category=listing.category,
        pricing_model=listing.pricing_model,
        price=from_minor(listing.price_minor, listing.currency),
        currency=listing.currency,
        billing_interval=listing.billing_interval,
        trial_days=listing.trial_days,
        slug=listing.slug,
        tags=listing.tags,
        images=listing.images,
        features=listing.features,
        requirements=listing.requirements,
    )


async def update_listing(session: AsyncSession, listing: Listing, fields: ListingFields) -> Listing:
    """Change the description or the price; an approved listing goes back to review (it stays
    on sale meanwhile). A suspended one cannot change."""
    if listing.status == "suspended":
        raise InvalidInput("a suspended listing cannot change")
    values = checked_fields(fields)
    if fields.slug != listing.slug:
        values["slug"] = await _free_slug(session, fields.slug, values["title"])
    for name, value in values.items():
        setattr(listing, name, value)
    if listing.status == "approved":
        listing.status = "pending_review"
    await session.flush()
    await session.refresh(listing)
    return listing


async def add_version(
    session: AsyncSession, listing: Listing, version: str, changelog: str, content: Any
) -> ListingVersion:
    """A new version; installs keep taking the last approved one until an admin approves it."""
    version = _checked_version(version)
    checked_content(listing.kind, content)
    versions = await session.scalars(
        select(ListingVersion.version).where(ListingVersion.listing_id == listing.id)
    )
    newest = max((tuple(map(int, v.split("."))) for v in versions), default=(0, 0, 0))
    if tuple(map(int, version.split("."))) <= newest:
        raise InvalidInput(f"version {version} is not newer than {'.'.join(map(str, newest))}")
    row = ListingVersion(
        listing_id=listing.id, version=version, changelog=changelog, content=content
    )
    session.add(row)
    if listing.status == "approved":
        listing.status = "pending_review"
    await session.flush()
    return row


async def own_listing(
    session: AsyncSession, organization_id: uuid.UUID, listing_id: uuid.UUID
) -> Listing:
    """A listing of the caller's organization (another's answers as missing)."""
    listing = await session.scalar(
        select(Listing).where(Listing.id == listing_id, Listing.organization_id == organization_id)
    )
    if listing is None:
        raise NotFound("no such listing")
    return listing


async def visible_listing(
    session: AsyncSession, organization_id: uuid.UUID, listing_id: uuid.UUID
) -> Listing:
    """A listing the organization may see: its own, or anyone's approved one."""
    listing = await session.scalar(
        select(Listing).where(Listing.id == listing_id, visible_to(organization_id))
    )
    if listing is None:
        raise NotFound("no such listing")
    return listing


def public() -> ColumnElement[bool]:
    """Listings anyone sees: approved once, not rejected or suspended since (a pending new
    version leaves the approved one on sale)."""
    return and_(
        Listing.approved_at.is_not(None), Listing.status.in_(("approved", "pending_review"))
    )


def visible_to(organization_id: uuid.UUID) -> ColumnElement[bool]:
    return or_(Listing.organization_id == organization_id, public())


async def live_version(session: AsyncSession, listing: Listing) -> ListingVersion | None:
    """The newest approved version: what installs take."""
    return await session.scalar(
        select(ListingVersion)
        .where(ListingVersion.listing_id == listing.id, ListingVersion.approved_at.is_not(None))
        .order_by(ListingVersion.created_at.desc())
        .limit(1)
    )


async def submit(session: AsyncSession, listing: Listing) -> Listing:
    if listing.status not in REVIEWABLE:
        raise InvalidInput(f"a {listing.status} listing cannot be submitted for review")
    listing.status = "pending_review"
    listing.rejection_reason = None
    await session.flush()
    return listing


async def require_platform_admin(session: AsyncSession, user_id: uuid.UUID | None) -> User:
    """The user, when a platform admin (granted with `botbuilder admin grant EMAIL`)."""
    user = await session.get(User, user_id) if user_id else None
    if user is None or not user.platform_admin:
        raise Forbidden("only platform admins review marketplace listings")
    return user


async def listing_to_review(session: AsyncSession, admin: User, listing_id: uuid.UUID) -> Listing:
    """Any organization's listing, refused when the admin belongs to the seller."""
    listing = await session.get(Listing, listing_id)
    if listing is None:
        raise NotFound("no such listing")
    seller = await session.scalar(
        select(Membership.id).where(
            Membership.user_id == admin.id, Membership.organization_id == listing.organization_id
        )
    )
    if seller is not None:
        raise Forbidden("you belong to the seller's organization: another admin must review it")
    return listing


def _require_status(listing: Listing, wanted: tuple[str, ...], action: str) -> None:
    if listing.status not in wanted:
        raise InvalidInput(f"a {listing.status} listing cannot be {action}")


async def approve(session: AsyncSession, listing: Listing) -> Listing:
    """Approve the listing and its versions: visible to everyone, installable."""
    _require_status(listing, ("pending_review",), "approved")
    listing.status = "approved"
    listing.approved_at = listing.approved_at or func.now()
    await session.execute(
        update(ListingVersion)
        .where(ListingVersion.listing_id == listing.id, ListingVersion.approved_at.is_(None))
        .values(approved_at=func.now())
    )
    await session.flush()
    await session.refresh(listing)
    return listing


async def reject(session: AsyncSession, listing: Listing, reason: str) -> Listing:
    _require_status(listing, ("pending_review",), "rejected")
    if not reason.strip():
        raise InvalidInput("say why the listing is rejected")
    listing.status, listing.rejection_reason = "rejected", reason.strip()
    await session.flush()
    return listing


async def suspend(session: AsyncSession, listing: Listing, reason: str) -> Listing:
    _require_status(listing, ("approved", "pending_review"), "suspended")
    listing.status, listing.rejection_reason = "suspended", reason.strip() or None
    await session.flush()
    return listing


async def count_view(session: AsyncSession, listing: Listing) -> None:
    """Count a look by another organization: on the listing and on today's (UTC) row."""
    listing.view_count += 1
    today = func.timezone("UTC", func.now()).cast(Date)
    await session.execute(
        insert(ListingViews)
        .values(listing_id=listing.id, day=today, views=1)
        .on_conflict_do_update(
            index_elements=["listing_id", "day"], set_={"views": ListingViews.views + 1}
        )
    )
    await session.flush()
