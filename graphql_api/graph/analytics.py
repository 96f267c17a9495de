"""GraphQL for analytics: dashboard, per-flow funnel, satisfaction and real-time figures.

Every query takes a range of whole local days (`from`, `to`, inclusive) in `timeZone` and a bot
of the caller's organization, or no bot for all of them.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from graphql_api.graph.context import platform_of, require_caller, transaction
from graphql_api.ids import parse_id
from models.bot_tables import Bot
from models.flow_tables import FlowVersion
from services.analytics import queries
from services.tenancy import bot_in, flow_in

MessagesAt = strawberry.type(queries.MessagesAt, name="AnalyticsMessagesAt")
Ranked = strawberry.type(queries.Ranked, name="AnalyticsRanked")
Change = strawberry.type(queries.Change, name="AnalyticsChange")
Totals = strawberry.type(queries.Totals, name="AnalyticsTotals")
Dashboard = strawberry.type(queries.Dashboard, name="AnalyticsDashboard")
NodeFunnel = strawberry.type(queries.NodeFunnel, name="AnalyticsNodeFunnel")
EdgeVisits = strawberry.type(queries.EdgeVisits, name="AnalyticsEdgeVisits")
AnswerCount = strawberry.type(queries.AnswerCount, name="AnalyticsAnswerCount")
QuestionStats = strawberry.type(queries.QuestionStats, name="AnalyticsQuestionStats")
FlowStats = strawberry.type(queries.FlowStats, name="FlowAnalytics")
Satisfaction = strawberry.type(queries.Satisfaction, name="AnalyticsSatisfaction")
RealTime = strawberry.type(queries.RealTime, name="AnalyticsRealTime")

FirstDay = Annotated[date, strawberry.argument(name="from", description="First local day.")]
LastDay = Annotated[date, strawberry.argument(description="Last local day (inclusive).")]
Zone = Annotated[str, strawberry.argument(description="IANA time zone, e.g. Europe/Madrid.")]


async def organization_bots(
    session: AsyncSession, organization_id: uuid.UUID, bot_id: strawberry.ID | None
) -> list[uuid.UUID]:
    """The bot asked for (checked to be the organization's), or all the organization's bots."""
    if bot_id is not None:
        return [(await bot_in(session, organization_id, parse_id(bot_id, "bot"))).id]
    return list(await session.scalars(select(Bot.id).where(Bot.organization_id == organization_id)))


@strawberry.type
class AnalyticsQuery:
    @strawberry.field(description="Totals, trends against the previous period, and breakdowns.")
    async def analytics_dashboard(
        self,
        info: Info,
        first: FirstDay,
        to: LastDay,
        bot_id: strawberry.ID | None = None,
        time_zone: Zone = "UTC",
    ) -> Dashboard:
        caller = await require_caller(info)
        # Its seven parts run side by side, each on a connection of its own, not on the
        # request's snapshot: holding that while waiting for seven more could drain the pool.
        sessions = platform_of(info).sessions
        async with sessions() as session:
            bots = await organization_bots(session, caller.organization_id, bot_id)
        return await queries.dashboard(sessions, queries.make_period(bots, first, to, time_zone))

    @strawberry.field(description="A flow's runs, funnel per node, edge visits and answers.")
    async def flow_analytics(
        self,
        info: Info,
        flow_id: strawberry.ID,
        first: FirstDay,
        to: LastDay,
        time_zone: Zone = "UTC",
    ) -> FlowStats:
        caller = await require_caller(info)
        async with transaction(info) as session:
            flow = await flow_in(session, caller.organization_id, parse_id(flow_id, "flow"))
            period = queries.make_period([flow.bot_id], first, to, time_zone)
            definition = flow.definition
            if flow.published_version_id is not None:
                version = await session.get(FlowVersion, flow.published_version_id)
                definition = version.definition if version else definition
            return await queries.flow_stats(session, period, flow.id, definition)

    @strawberry.field(description="Ratings from survey answers: positive, neutral, negative.")
    async def analytics_satisfaction(
        self,
        info: Info,
        first: FirstDay,
        to: LastDay,
        bot_id: strawberry.ID | None = None,
        time_zone: Zone = "UTC",
    ) -> Satisfaction:
        caller = await require_caller(info)
        async with transaction(info) as session:
            bots = await organization_bots(session, caller.organization_id, bot_id)
            return await queries.satisfaction(
                session, queries.make_period(bots, first, to, time_zone)
            )

    @strawberry.field(description="Active contacts (5 min), messages (1 h), waiting for agent.")
    async def analytics_real_time(
        self, info: Info, bot_id: strawberry.ID | None = None
    ) -> RealTime:
        caller = await require_caller(info)
        async with transaction(info) as session:
            bots = await organization_bots(session, caller.organization_id, bot_id)
            return await queries.real_time(session, bots)
