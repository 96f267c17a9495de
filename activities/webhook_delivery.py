"""The `deliver_webhooks` activity: POST an endpoint's due deliveries, signed, and log each attempt.

Only a 2xx answer delivers. A failure is retried on `services.webhooks.rules.RETRY_SCHEDULE` (each
delivery on its own schedule, honouring `Retry-After`); `410 Gone` disables the endpoint at once,
and so does failing every attempt for `DISABLE_AFTER_FAILING` (the organization is told with a
`webhook.endpoint_disabled` event). Each attempt goes through the outbound guard
(`outbound.guard`): the URL's host is resolved, refused unless public, and connected to at the
checked address. Redirects are not followed (a 3xx is a failed attempt) and response bodies are
read only up to `RESPONSE_READ_LIMIT` bytes.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from models.payloads import activity_names
from models.secret_box import SecretBox
from models.settings import Settings
from models.webhook_tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from outbound.guard import OutboundPolicy, OutboundRefused, guarded_client
from services.webhooks import outbox as webhook_outbox
from services.webhooks.rules import (
    DISABLE_AFTER_FAILING,
    DrainRequest,
    DrainResult,
    parse_retry_after,
    retry_delay,
    signature_header,
)

BATCH_SIZE = 50
CONCURRENCY = 16
RESPONSE_READ_LIMIT = 4096
EXCERPT_CHARS = 1000
HEARTBEAT_SECONDS = 2.0


def webhook_id(event_id: uuid.UUID) -> str:
    """The `webhook-id` of an event: the same on every attempt, so receivers can dedupe."""
    return f"msg_{event_id.hex}"


def signing_secrets(box: SecretBox, endpoint: WebhookEndpoint) -> list[str]:
    """The current secret, and the previous one while its rotation grace period lasts."""
    found = [box.decrypt(endpoint.secret_encrypted)["secret"]]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires and expires > datetime.now(UTC):
        found.append(box.decrypt(endpoint.previous_secret_encrypted)["secret"])
    return found


class Outcome:
    """What one HTTP attempt gave."""

    def __init__(self) -> None:
        self.status_code: int | None = None
        self.excerpt = ""
        self.error: str | None = None
        self.retry_after_header: str | None = None
        self.duration_ms = 0

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookDeliverer:
    """Delivers for the endpoint delivery workflows; one guarded HTTP client (no redirects) per
    worker."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], secret_box: SecretBox, settings: Settings
    ) -> None:
        self.sessions = sessions
        self.secret_box = secret_box
        self.timeout = settings.webhook_timeout_seconds
        self.policy = OutboundPolicy.parse(settings.outbound_allowed_hosts)
        self._http: httpx.AsyncClient | None = None

    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = guarded_client(self.policy, timeout=self.timeout, follow_redirects=False)
        return self._http

    @activity.defn(name=activity_names.DELIVER_WEBHOOKS)
    async def deliver_webhooks(self, request: DrainRequest) -> DrainResult:
        """Attempt every due delivery of the endpoint (at most `BATCH_SIZE`), record each."""
        endpoint_id = uuid.UUID(request.endpoint_id)
        async with self.sessions() as session:
            endpoint = await session.get(WebhookEndpoint, endpoint_id)
            if endpoint is None or not endpoint.active or endpoint.disabled_at is not None:
                return DrainResult(stop=True)
            due = (
                await session.execute(
                    select(WebhookDelivery, WebhookEvent)
                    .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                    .where(
                        WebhookDelivery.endpoint_id == endpoint_id,
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.next_attempt_at <= request.now,
                    )
                    .order_by(WebhookDelivery.next_attempt_at)
                    .limit(BATCH_SIZE)
                )
            ).all()
        signing = signing_secrets(self.secret_box, endpoint)
        limit = asyncio.Semaphore(CONCURRENCY)

        async def attempt(event: WebhookEvent) -> Outcome:
            async with limit:
                return await self._attempt(endpoint, signing, event)

        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            outcomes = await asyncio.gather(*(attempt(event) for _, event in due))
        finally:
            heartbeat.cancel()
        deliveries = [delivery for delivery, _ in due]
        if await self._record(endpoint, list(zip(deliveries, outcomes, strict=True)), request.now):
            return DrainResult(stop=True)
        async with self.sessions() as session:
            next_due = await session.scalar(
                select(func.min(WebhookDelivery.next_attempt_at)).where(
                    WebhookDelivery.endpoint_id == endpoint_id,
                    WebhookDelivery.status == "pending",
                )
            )
        return DrainResult(more_due=len(due) == BATCH_SIZE, next_due=next_due)

    async def _heartbeat(self) -> None:
        """Tell Temporal the worker is alive while receivers answer (a dead one is retried)."""
        while True:
            activity.heartbeat()
            await asyncio.sleep(HEARTBEAT_SECONDS)

    async def _attempt(
        self,
        endpoint: WebhookEndpoint,
        signing: list[str],
        event: WebhookEvent,
    ) -> Outcome:
        """One signed POST to the checked address (none when the guard refuses it: its host
        may resolve elsewhere than when it was saved); never raises."""
        outcome = Outcome()
        body = json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False).encode()
        message_id, timestamp = webhook_id(event.id), int(time.time())
        headers = {
            **endpoint.headers,
            "content-type": "application/json",
            "user-agent": "BotBuilder-Webhooks/1.0",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(signing, message_id, timestamp, body),
        }
        started = time.perf_counter()
        try:
            async with self.http().stream("POST", endpoint.url, content=body, headers=headers) as r:
                outcome.status_code = r.status_code
                outcome.retry_after_header = r.headers.get("retry-after")
                outcome.excerpt = await read_excerpt(r)
        except OutboundRefused as refused:
            outcome.error = str(refused)
        except httpx.TimeoutException:
            outcome.error = f"no answer within {self.timeout:g} s"
        except httpx.HTTPError as err:
            outcome.error = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        outcome.duration_ms = int((time.perf_counter() - started) * 1000)
        if outcome.status_code is not None and not outcome.ok:
            outcome.error = f"the receiver answered {outcome.status_code}"
        return outcome

    async def _record(
        self,
        endpoint: WebhookEndpoint,
        results: list[tuple[WebhookDelivery, Outcome]],
        now: datetime,
    ) -> bool:
        """Log a batch's attempts and schedule what follows, in one transaction; True when it
        disabled the endpoint."""
        if not results:
            return False
        attempts, updates = [], []
        for delivery, outcome in results:
            attempts.append(
                WebhookAttempt(
                    delivery_id=delivery.id,
                    attempted_at=now,
                    status_code=outcome.status_code,
                    duration_ms=outcome.duration_ms,
                    response_excerpt=outcome.excerpt,
                    error=outcome.error,
                )
            )
            updates.append(
                {
                    "claimed_id": delivery.id,
                    "claimed_attempts": delivery.attempts,
                    "claimed_due": delivery.next_attempt_at,
                    "attempts": delivery.attempts + 1,
                    "last_attempt_at": now,
                    **next_step(delivery, outcome, now),
                }
            )
        outcomes = [outcome for _, outcome in results]
        async with self.sessions.begin() as session:
            session.add_all(attempts)
            await session.execute(STILL_CLAIMED, updates)
            failing_since = await failing_state(session, endpoint, outcomes, now)
            reason = disabling_reason(outcomes, failing_since, now)
            if reason:
                await disable(session, endpoint.id, reason, now)
        return reason is not None


DELIVERIES = WebhookDelivery.__table__
STILL_CLAIMED = (
    update(DELIVERIES)
    .where(
        DELIVERIES.c.id == bindparam("claimed_id"),
        DELIVERIES.c.status == "pending",
        DELIVERIES.c.attempts == bindparam("claimed_attempts"),
        DELIVERIES.c.next_attempt_at == bindparam("claimed_due"),
    )
    .values(
        attempts=bindparam("attempts"),
        last_attempt_at=bindparam("last_attempt_at"),
        status=bindparam("status"),
        next_attempt_at=bindparam("next_attempt_at"),
    )
)
"""An attempt's outcome, written only while the delivery is still the one this batch claimed: a
`redeliverWebhook` committed meanwhile has reset it, and its fresh attempt must not be lost."""


def next_step(delivery: WebhookDelivery, outcome: Outcome, now: datetime) -> dict[str, Any]:
    """The delivery's status and next attempt after this outcome."""
    if outcome.ok:
        return {"status": "succeeded", "next_attempt_at": None}
    retry_after = parse_retry_after(outcome.retry_after_header, now)
    gone = outcome.status_code == 410
    delay = None if gone else retry_delay(delivery.attempts + 1, retry_after)
    if delay is None:
        return {"status": "failed", "next_attempt_at": None}
    return {"status": "pending", "next_attempt_at": now + delay}


async def failing_state(
    session: AsyncSession, endpoint: WebhookEndpoint, outcomes: list[Outcome], now: datetime
) -> datetime | None:
    """Since when every attempt of the endpoint has failed (None: one just succeeded)."""
    succeeded = any(outcome.ok for outcome in outcomes)
    if succeeded and endpoint.failing_since is None:
        return None  # the usual case: nothing to write
    since = None if succeeded else func.coalesce(WebhookEndpoint.failing_since, now)
    return await session.scalar(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint.id)
        .values(failing_since=since)
        .returning(WebhookEndpoint.failing_since)
    )


def disabling_reason(
    outcomes: list[Outcome], failing_since: datetime | None, now: datetime
) -> str | None:
    if any(outcome.status_code == 410 for outcome in outcomes):
        return "the receiver answered 410 Gone"
    if failing_since is not None and now - failing_since >= DISABLE_AFTER_FAILING:
        return f"every delivery attempt failed for {DISABLE_AFTER_FAILING.days} days"
    return None


async def disable(
    session: AsyncSession, endpoint_id: uuid.UUID, reason: str, now: datetime
) -> None:
    """Disable the endpoint and tell the organization's other endpoints."""
    organization_id = await session.scalar(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.disabled_at.is_(None))
        .values(disabled_at=now, disabled_reason=reason)
        .returning(WebhookEndpoint.organization_id)
    )
    if organization_id is not None:
        await webhook_outbox.emit(
            session,
            "webhook.endpoint_disabled",
            f"{endpoint_id}:{now.isoformat()}",
            "organization",
            organization_id,
            {"endpoint_id": str(endpoint_id), "reason": reason},
        )


async def read_excerpt(response: httpx.Response) -> str:
    """The start of the response body, reading at most `RESPONSE_READ_LIMIT` bytes."""
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= RESPONSE_READ_LIMIT:
            break
    return data[:RESPONSE_READ_LIMIT].decode("utf-8", errors="replace")[:EXCERPT_CHARS]
