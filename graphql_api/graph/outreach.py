"""GraphQL for proactive starts: start a flow for contacts who have not written, and follow it."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from sqlalchemy import func, select, update
from strawberry.types import Info

from graphql_api.auth import MANAGERS
from graphql_api.graph.context import platform_of, require_caller, transaction
from graphql_api.graph.conversation_types import temporal_url
from graphql_api.graph.conversations import EngineUnavailable
from graphql_api.graph.limits import DEFAULT_PAGE_SIZE, page_size
from graphql_api.graph.types import gid
from graphql_api.ids import parse_id
from models.outreach_tables import Outreach as OutreachRow
from models.outreach_tables import OutreachContact
from services.conversations import outreach as outreaches
from services.conversations.outreach import OutreachInput
from services.tenancy import bot_in, channel_in, flow_in
from workflows.outreach import OutreachWorkflow

DEFAULT_PER_SECOND = 10
FAILURES_SHOWN = 100


@strawberry.input
class OutreachContactInput:
    external_id: str = strawberry.field(description="The channel's id: phone, or web contact id.")
    name: str | None = None


@strawberry.type
class OutreachFailure:
    external_id: str
    reason: str


@strawberry.type(description="A flow started for a list of contacts, and how far it is.")
class Outreach:
    id: strawberry.ID
    bot_id: strawberry.ID
    channel_id: strawberry.ID
    flow_id: strawberry.ID
    flow_version_id: strawberry.ID
    status: str = strawberry.field(description="`running` or `completed`.")
    messages_per_second: int
    total: int
    pending: int
    started: int
    failed: int
    failures: list[OutreachFailure] = strawberry.field(
        description=f"The first {FAILURES_SHOWN} contacts whose start failed, with why."
    )
    created_at: datetime
    finished_at: datetime | None
    temporal_url: str


async def _read(info: Info, row: OutreachRow) -> Outreach:
    async with transaction(info) as session:
        progress = await outreaches.progress_of(session, row.id, FAILURES_SHOWN)
    return Outreach(
        id=gid(row.id),
        bot_id=gid(row.bot_id),
        channel_id=gid(row.channel_id),
        flow_id=gid(row.flow_id),
        flow_version_id=gid(row.flow_version_id),
        status=row.status,
        messages_per_second=row.messages_per_second,
        total=progress.total,
        pending=progress.pending,
        started=progress.started,
        failed=progress.failed,
        failures=[
            OutreachFailure(external_id=c.external_id, reason=c.error or "")
            for c in progress.failures
        ],
        created_at=row.created_at,
        finished_at=row.finished_at,
        temporal_url=temporal_url(platform_of(info).settings, row.workflow_id),
    )


@strawberry.type
class OutreachQuery:
    @strawberry.field(description="A proactive start's progress.")
    async def outreach(self, info: Info, id: strawberry.ID) -> Outreach:
        caller = await require_caller(info)
        async with transaction(info) as session:
            row = await outreaches.outreach_in(
                session, caller.organization_id, parse_id(id, "outreach")
            )
        return await _read(info, row)

    @strawberry.field(description="A bot's proactive starts, most recent first.")
    async def outreaches(
        self, info: Info, bot_id: strawberry.ID, first: int = DEFAULT_PAGE_SIZE
    ) -> list[Outreach]:
        caller = await require_caller(info)
        limit = page_size(first)
        async with transaction(info) as session:
            bot = await bot_in(session, caller.organization_id, parse_id(bot_id, "bot"))
            rows = await session.scalars(
                select(OutreachRow)
                .where(OutreachRow.bot_id == bot.id)
                .order_by(OutreachRow.created_at.desc(), OutreachRow.id.desc())
                .limit(limit)
            )
            found = list(rows)
        return [await _read(info, row) for row in found]


@strawberry.type
class OutreachMutation:
    @strawberry.mutation(
        description="Start a published flow for contacts who have not written first, paced at "
        "`messagesPerSecond`. Contacts talking to a flow or an agent are skipped (failed)."
    )
    async def start_flow(
        self,
        info: Info,
        flow_id: strawberry.ID,
        channel_id: strawberry.ID,
        contacts: list[OutreachContactInput],
        messages_per_second: int = DEFAULT_PER_SECOND,
    ) -> Outreach:
        caller = await require_caller(info, MANAGERS)
        org = caller.organization_id
        async with transaction(info) as session:
            flow = await flow_in(session, org, parse_id(flow_id, "flow"))
            channel = await channel_in(session, org, parse_id(channel_id, "channel"))
            row = await outreaches.create_outreach(
                session,
                flow,
                channel,
                [(c.external_id, c.name) for c in contacts],
                messages_per_second,
                caller.user_id,
            )
        platform = platform_of(info)
        try:
            client = await platform.temporal()
            await client.start_workflow(
                OutreachWorkflow.run,
                OutreachInput(outreach_id=str(row.id)),
                id=row.workflow_id,
                task_queue=platform.settings.task_queue,
                static_summary=f"outreach: flow “{flow.name}” to {len(contacts)} contacts",
            )
        except Exception as err:
            await _give_up(info, row.id)
            raise EngineUnavailable("the start could not be scheduled; try again") from err
        return await _read(info, row)


async def _give_up(info: Info, outreach_id: uuid.UUID) -> None:
    """Nothing will start: say so in the outreach's progress."""
    async with transaction(info) as session:
        await session.execute(
            update(OutreachContact)
            .where(OutreachContact.outreach_id == outreach_id)
            .values(status="failed", error="the start could not be scheduled")
        )
        await session.execute(
            update(OutreachRow)
            .where(OutreachRow.id == outreach_id)
            .values(status="completed", finished_at=func.now())
        )
