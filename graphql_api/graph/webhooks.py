"""GraphQL for outgoing webhooks: endpoints, secrets, the delivery log, stats, redelivery."""

from __future__ import annotations

from datetime import datetime, timedelta

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.scalars import JSON
from strawberry.types import Info

from graphql_api.auth import MANAGERS, Caller
from graphql_api.graph.bots import optional_object, secret_box
from graphql_api.graph.context import ContextInfo, platform_of, require_caller, transaction
from graphql_api.graph.conversation_types import temporal_url
from graphql_api.graph.limits import DEFAULT_PAGE_SIZE, page_size
from graphql_api.graph.types import gid
from graphql_api.ids import parse_id
from models.webhook_tables import WebhookAttempt as AttemptRow
from models.webhook_tables import WebhookDelivery as DeliveryRow
from models.webhook_tables import WebhookEndpoint as EndpointRow
from models.webhook_tables import WebhookEvent as EventRow
from outbound.guard import OutboundPolicy
from services.tenancy import bot_in
from services.webhooks import endpoints
from services.webhooks.endpoints import EndpointSettings, EndpointStats
from services.webhooks.outbox import EVENT_TYPES, wake_after_commit
from workflows.webhook_delivery import delivery_workflow_id

WebhookStats = strawberry.type(
    EndpointStats, name="WebhookStats", description="Delivery totals of an endpoint."
)


@strawberry.type(
    description="Where events are POSTed. The secret is shown only when created or rotated."
)
class WebhookEndpoint:
    id: strawberry.ID
    bot_id: strawberry.ID | None = strawberry.field(description="None: every bot of the org.")
    url: str
    description: str
    events: list[str]
    headers: JSON
    active: bool
    disabled: bool = strawberry.field(description="Turned off by delivery: see disabledReason.")
    disabled_at: datetime | None
    disabled_reason: str | None
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: EndpointRow) -> WebhookEndpoint:
        return cls(
            id=gid(row.id),
            bot_id=gid(row.bot_id) if row.bot_id else None,
            url=row.url,
            description=row.description,
            events=row.events,
            headers=row.headers,
            active=row.active,
            disabled=row.disabled_at is not None,
            disabled_at=row.disabled_at,
            disabled_reason=row.disabled_reason,
            failing_since=row.failing_since,
            previous_secret_expires_at=row.previous_secret_expires_at,
            created_at=row.created_at,
        )

    @strawberry.field(description="Its delivery workflow in the Temporal UI.")
    def temporal_url(self, info: Info) -> str:
        return temporal_url(platform_of(info).settings, delivery_workflow_id(str(self.id)))

    @strawberry.field
    async def stats(self, info: ContextInfo) -> WebhookStats:  # type: ignore[valid-type]
        return await info.context.loaders.stats_of_endpoint.load(
            parse_id(self.id, "webhook endpoint")
        )


@strawberry.type(description="One attempt to deliver: what the receiver answered.")
class WebhookAttempt:
    attempted_at: datetime
    status_code: int | None
    duration_ms: int
    response_excerpt: str
    error: str | None

    @classmethod
    def of(cls, row: AttemptRow) -> WebhookAttempt:
        return cls(
            attempted_at=row.attempted_at,
            status_code=row.status_code,
            duration_ms=row.duration_ms,
            response_excerpt=row.response_excerpt,
            error=row.error,
        )


@strawberry.type(description="One event for one endpoint, with every attempt.")
class WebhookDelivery:
    id: strawberry.ID
    endpoint_id: strawberry.ID
    webhook_id: str = strawberry.field(description="The `webhook-id` header, same every attempt.")
    event_type: str
    payload: JSON
    status: str = strawberry.field(description="`pending`, `succeeded` or `failed`.")
    attempt_count: int
    next_attempt_at: datetime | None
    created_at: datetime
    attempts: list[WebhookAttempt]

    @classmethod
    def of(cls, row: DeliveryRow, event: EventRow, attempts: list[AttemptRow]) -> WebhookDelivery:
        return cls(
            id=gid(row.id),
            endpoint_id=gid(row.endpoint_id),
            webhook_id=f"msg_{event.id.hex}",
            event_type=event.type,
            payload=event.payload,
            status=row.status,
            attempt_count=row.attempts,
            next_attempt_at=row.next_attempt_at,
            created_at=row.created_at,
            attempts=[WebhookAttempt.of(a) for a in attempts],
        )


@strawberry.type(description="An endpoint and its new signing secret: store it now.")
class WebhookEndpointSecret:
    endpoint: WebhookEndpoint
    secret: str = strawberry.field(description="`whsec_...`; never shown again.")


@strawberry.input(description="`events`: event types, or `*` for all.")
class WebhookEndpointInput:
    url: str
    events: list[str]
    headers: JSON | None = None
    description: str = ""
    active: bool = True


@strawberry.input(description="Only the fields given change; `active: true` re-enables.")
class WebhookEndpointUpdate:
    url: str | None = None
    events: list[str] | None = None
    headers: JSON | None = None
    description: str | None = None
    active: bool | None = None


async def delivery_of(info: Info, row: DeliveryRow) -> WebhookDelivery:
    async with transaction(info) as session:
        event = await session.get(EventRow, row.event_id)
        attempts = await endpoints.attempts_of(session, [row.id])
    assert event is not None
    return WebhookDelivery.of(row, event, attempts[row.id])


async def endpoint_of(session: AsyncSession, caller: Caller, id: strawberry.ID) -> EndpointRow:
    """The caller's organization's endpoint with this id, else `NotFound`."""
    return await endpoints.endpoint_in(
        session, caller.organization_id, parse_id(id, "webhook endpoint")
    )


def settings_of(input: WebhookEndpointInput | WebhookEndpointUpdate) -> EndpointSettings:
    headers = optional_object(input.headers, "headers")
    return EndpointSettings(
        url=input.url,
        events=input.events,
        description=input.description,
        headers=headers,
        active=input.active,
    )


def outbound_policy(info: Info) -> OutboundPolicy:
    return OutboundPolicy.parse(platform_of(info).settings.outbound_allowed_hosts)


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="Every event type an endpoint can subscribe to.")
    def webhook_event_types(self) -> list[str]:
        return list(EVENT_TYPES)

    @strawberry.field(description="The organization's webhook endpoints (of one bot if given).")
    async def webhook_endpoints(
        self, info: Info, bot_id: strawberry.ID | None = None
    ) -> list[WebhookEndpoint]:
        caller = await require_caller(info)
        query = select(EndpointRow).where(EndpointRow.organization_id == caller.organization_id)
        async with transaction(info) as session:
            if bot_id is not None:
                bot = await bot_in(session, caller.organization_id, parse_id(bot_id, "bot"))
                query = query.where(EndpointRow.bot_id == bot.id)
            rows = await session.scalars(query.order_by(EndpointRow.created_at))
            return [WebhookEndpoint.of(row) for row in rows]

    @strawberry.field
    async def webhook_endpoint(self, info: Info, id: strawberry.ID) -> WebhookEndpoint:
        caller = await require_caller(info)
        async with transaction(info) as session:
            row = await endpoint_of(session, caller, id)
        return WebhookEndpoint.of(row)

    @strawberry.field(description="The endpoint's deliveries, newest first, with attempts.")
    async def webhook_deliveries(
        self,
        info: Info,
        endpoint_id: strawberry.ID,
        status: str | None = None,
        first: int = DEFAULT_PAGE_SIZE,
        offset: int = 0,
    ) -> list[WebhookDelivery]:
        caller = await require_caller(info)
        async with transaction(info) as session:
            endpoint = await endpoint_of(session, caller, endpoint_id)
            query = endpoints.deliveries_query(endpoint.id, status)
            rows = (
                await session.execute(query.limit(page_size(first)).offset(max(offset, 0)))
            ).all()
            attempts = await endpoints.attempts_of(session, [row.id for row, _ in rows])
        return [WebhookDelivery.of(row, event, attempts[row.id]) for row, event in rows]


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        description="Subscribe a URL to the events of the organization, or of "
        "one bot; returns the signing secret."
    )
    async def create_webhook_endpoint(
        self, info: Info, input: WebhookEndpointInput, bot_id: strawberry.ID | None = None
    ) -> WebhookEndpointSecret:
        caller = await require_caller(info, MANAGERS)
        bot = parse_id(bot_id, "bot") if bot_id is not None else None
        settings = settings_of(input)
        async with transaction(info) as session:
            row, secret = await endpoints.create_endpoint(
                session,
                secret_box(info),
                caller.organization_id,
                bot,
                settings,
                outbound_policy(info),
            )
            wake_after_commit(session, [row.id])
        return WebhookEndpointSecret(endpoint=WebhookEndpoint.of(row), secret=secret)

    @strawberry.mutation
    async def update_webhook_endpoint(
        self, info: Info, id: strawberry.ID, input: WebhookEndpointUpdate
    ) -> WebhookEndpoint:
        caller = await require_caller(info, MANAGERS)
        settings = settings_of(input)
        async with transaction(info) as session:
            row = await endpoint_of(session, caller, id)
            await endpoints.update_endpoint(session, row, settings, outbound_policy(info))
        return WebhookEndpoint.of(row)

    @strawberry.mutation(description="Delete an endpoint with its delivery log.")
    async def delete_webhook_endpoint(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            row = await endpoint_of(session, caller, id)
            await session.delete(row)
            wake_after_commit(session, [row.id])  # its workflow ends
        return id

    @strawberry.mutation(description="A new signing secret; the old one also signs meanwhile.")
    async def rotate_webhook_secret(
        self, info: Info, id: strawberry.ID, grace_hours: float = 24
    ) -> WebhookEndpointSecret:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            row = await endpoint_of(session, caller, id)
            secret = await endpoints.rotate_secret(
                session, secret_box(info), row, timedelta(hours=grace_hours)
            )
        return WebhookEndpointSecret(endpoint=WebhookEndpoint.of(row), secret=secret)

    @strawberry.mutation(description="Deliver again now (same webhook-id, fresh schedule).")
    async def redeliver_webhook(self, info: Info, delivery_id: strawberry.ID) -> WebhookDelivery:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            row = await endpoints.delivery_in(
                session, caller.organization_id, parse_id(delivery_id, "webhook delivery")
            )
            await endpoints.redeliver(session, row)
        return await delivery_of(info, row)

    @strawberry.mutation(
        description="Deliver again every delivery that failed since a time; returns how many."
    )
    async def redeliver_failed_webhooks(
        self, info: Info, endpoint_id: strawberry.ID, since: datetime
    ) -> int:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            row = await endpoint_of(session, caller, endpoint_id)
            return await endpoints.redeliver_failed(session, row, since)

    @strawberry.mutation(description="Send a `webhook.test` event to the endpoint.")
    async def send_test_webhook(self, info: Info, endpoint_id: strawberry.ID) -> WebhookDelivery:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            endpoint = await endpoint_of(session, caller, endpoint_id)
            row = await endpoints.send_test_event(session, endpoint)
        return await delivery_of(info, row)
