"""Managing webhook endpoints: checked settings, sealed secrets and rotation, the delivery log,
per-endpoint stats, redelivery and test events. Lookups are scoped to one organization."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, case, func, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from models.bot_tables import Bot
from models.errors import InvalidInput, NotFound
from models.secret_box import SecretBox
from models.webhook_tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from outbound.guard import OutboundPolicy
from services.webhooks.outbox import (
    ALL_EVENTS,
    EVENT_TYPES,
    TEST_EVENT,
    wake_after_commit,
)
from services.webhooks.rules import check_webhook_url, new_secret

RESERVED_HEADERS = {"content-type", "content-length", "host", "user-agent", "transfer-encoding"}
MAX_ROTATION_GRACE = timedelta(days=7)


@dataclass
class EndpointSettings:
    """What a caller may set on an endpoint; None leaves a field unchanged on update."""

    url: str | None = None
    events: list[str] | None = None
    headers: dict[str, Any] | None = None
    description: str | None = None
    active: bool | None = None


@dataclass
class EndpointStats:
    total: int
    succeeded: int
    failed: int
    pending: int
    average_latency_ms: float | None
    last_success_at: datetime | None
    last_error: str | None


def checked_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - {*EVENT_TYPES, ALL_EVENTS})
    if unknown:
        raise InvalidInput(
            f"unknown webhook event types: {', '.join(unknown)}; expected `*` or any of "
            f"{', '.join(EVENT_TYPES)}"
        )
    if not events:
        raise InvalidInput("subscribe the endpoint to at least one event type (or `*`)")
    return sorted(set(events))


def checked_headers(headers: dict[str, Any]) -> dict[str, str]:
    for name, value in headers.items():
        if not isinstance(value, str) or not name.strip() or "\n" in name + value:
            raise InvalidInput(f"header {name!r} must be a name with a one-line string value")
        if name.lower() in RESERVED_HEADERS or name.lower().startswith("webhook-"):
            raise InvalidInput(f"header {name!r} is set by the delivery and cannot be replaced")
    return {name.strip(): value for name, value in headers.items()}


async def endpoint_in(
    session: AsyncSession, organization_id: uuid.UUID, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.organization_id == organization_id
        )
    )
    if endpoint is None:
        raise NotFound("no such webhook endpoint")
    return endpoint


async def delivery_in(
    session: AsyncSession, organization_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    delivery = await session.scalar(
        select(WebhookDelivery)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.id == delivery_id, WebhookEndpoint.organization_id == organization_id
        )
    )
    if delivery is None:
        raise NotFound("no such webhook delivery")
    return delivery


async def create_endpoint(
    session: AsyncSession,
    box: SecretBox,
    organization_id: uuid.UUID,
    bot_id: uuid.UUID | None,
    settings: EndpointSettings,
    policy: OutboundPolicy,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (shown only now)."""
    if bot_id is not None:
        bot = await session.scalar(
            select(Bot.id).where(Bot.id == bot_id, Bot.organization_id == organization_id)
        )
        if bot is None:
            raise NotFound("no such bot")
    if settings.url is None:
        raise InvalidInput("a webhook endpoint needs a URL")
    await check_webhook_url(settings.url, policy)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        organization_id=organization_id,
        bot_id=bot_id,
        url=settings.url,
        events=checked_events(settings.events or []),
        headers=checked_headers(settings.headers or {}),
        description=settings.description or "",
        active=settings.active is not False,
        secret_encrypted=box.encrypt({"secret": secret}),
    )
    session.add(endpoint)
    await session.flush()
    await session.refresh(endpoint)
    return endpoint, secret


async def update_endpoint(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    settings: EndpointSettings,
    policy: OutboundPolicy,
) -> WebhookEndpoint:
    """Change the given fields; activating it again clears a disabled state."""
    if settings.url is not None:
        await check_webhook_url(settings.url, policy)
        endpoint.url = settings.url
    if settings.events is not None:
        endpoint.events = checked_events(settings.events)
    if settings.headers is not None:
        endpoint.headers = checked_headers(settings.headers)
    if settings.description is not None:
        endpoint.description = settings.description
    if settings.active is not None:
        endpoint.active = settings.active
        if settings.active:
            endpoint.disabled_at, endpoint.disabled_reason = None, None
            endpoint.failing_since = None
            wake_after_commit(session, [endpoint.id])
    await session.flush()
    await session.refresh(endpoint)
    return endpoint


async def rotate_secret(
    session: AsyncSession, box: SecretBox, endpoint: WebhookEndpoint, grace: timedelta
) -> str:
    """A new secret (shown only now); the old one also signs for `grace`."""
    if not timedelta(0) <= grace <= MAX_ROTATION_GRACE:
        raise InvalidInput(f"the grace period must be between 0 and {MAX_ROTATION_GRACE.days} days")
    secret = new_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_expires_at = datetime.now(UTC) + grace
    endpoint.secret_encrypted = box.encrypt({"secret": secret})
    await session.flush()
    return secret


def _usable(endpoint: WebhookEndpoint) -> None:
    if not endpoint.active or endpoint.disabled_at is not None:
        raise InvalidInput("this webhook endpoint is disabled; activate it first")


async def redeliver(session: AsyncSession, delivery: WebhookDelivery) -> WebhookDelivery:
    """Try a delivery again now, with a fresh retry schedule (same webhook-id)."""
    endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id)
    assert endpoint is not None
    _usable(endpoint)
    delivery.status, delivery.attempts = "pending", 0
    delivery.next_attempt_at = func.now()
    await session.flush()
    await session.refresh(delivery)
    wake_after_commit(session, [endpoint.id])
    return delivery


async def redeliver_failed(
    session: AsyncSession, endpoint: WebhookEndpoint, since: datetime
) -> int:
    """Try again every delivery of the endpoint that failed for good since `since`."""
    _usable(endpoint)
    result = await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.status == "failed",
            WebhookDelivery.created_at >= since,
        )
        .values(status="pending", attempts=0, next_attempt_at=func.now())
    )
    wake_after_commit(session, [endpoint.id])
    return int(result.rowcount)  # type: ignore[attr-defined]


async def send_test_event(session: AsyncSession, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A `webhook.test` event for this endpoint only, delivered like any other."""
    _usable(endpoint)
    payload = {
        "type": TEST_EVENT,
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {"endpoint_id": str(endpoint.id), "message": "a test event from BotBuilder"},
    }
    event = WebhookEvent(
        organization_id=endpoint.organization_id,
        bot_id=endpoint.bot_id,
        type=TEST_EVENT,
        payload=payload,
    )
    session.add(event)
    await session.flush()
    delivery = WebhookDelivery(
        event_id=event.id, endpoint_id=endpoint.id, next_attempt_at=func.now()
    )
    session.add(delivery)
    await session.flush()
    await session.refresh(delivery)
    wake_after_commit(session, [endpoint.id])
    return delivery


def deliveries_query(endpoint_id: uuid.UUID, status: str | None) -> Select[Any]:
    query = (
        select(WebhookDelivery, WebhookEvent)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
    )
    return query if status is None else query.where(WebhookDelivery.status == status)


async def attempts_of(
    session: AsyncSession, delivery_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[WebhookAttempt]]:
    rows = await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.id)
    )
    found: dict[uuid.UUID, list[WebhookAttempt]] = {id: [] for id in delivery_ids}
    for row in rows:
        found[row.delivery_id].append(row)
    return found


async def endpoints_stats(
    session: AsyncSession, endpoint_ids: list[uuid.UUID]
) -> dict[uuid.UUID, EndpointStats]:
    """The stats of each of `endpoint_ids` (zeros for one with no deliveries): three queries
    however many endpoints."""
    endpoint = WebhookDelivery.endpoint_id
    counts = {
        row[0]: row[1:]
        for row in await session.execute(
            select(
                endpoint,
                func.count(),
                func.count().filter(WebhookDelivery.status == "succeeded"),
                func.count().filter(WebhookDelivery.status == "failed"),
                func.count().filter(WebhookDelivery.status == "pending"),
            )
            .where(endpoint.in_(endpoint_ids))
            .group_by(endpoint)
        )
    }
    attempts = (
        select(endpoint, WebhookAttempt)
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .where(endpoint.in_(endpoint_ids))
        .subquery()
    )
    ok = attempts.c.status_code.between(200, 299)
    timings = {
        row[0]: row[1:]
        for row in await session.execute(
            select(
                attempts.c.endpoint_id,
                func.avg(attempts.c.duration_ms),
                func.max(case((ok, attempts.c.attempted_at))),
            ).group_by(attempts.c.endpoint_id)
        )
    }
    last_errors = {
        endpoint_id: error
        for endpoint_id, error in await session.execute(
            select(attempts.c.endpoint_id, attempts.c.error)
            .where(attempts.c.error.is_not(None))
            .ext(distinct_on(attempts.c.endpoint_id))
            .order_by(attempts.c.endpoint_id, attempts.c.id.desc())
        )
    }
    stats = {}
    for endpoint_id in endpoint_ids:
        total, succeeded, failed, pending = counts.get(endpoint_id, (0, 0, 0, 0))
        latency, last_success = timings.get(endpoint_id, (None, None))
        stats[endpoint_id] = EndpointStats(
            total=total,
            succeeded=succeeded,
            failed=failed,
            pending=pending,
            average_latency_ms=float(latency) if latency is not None else None,
            last_success_at=last_success,
            last_error=last_errors.get(endpoint_id),
        )
    return stats
