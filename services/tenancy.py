"""Lookups scoped to one organization: a foreign id is refused exactly like a missing one."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.bot_tables import Bot, Channel
from models.errors import NotFound
from models.flow_tables import Flow, FlowVersion

Row = TypeVar("Row")


async def _one(session: AsyncSession, query: Select[tuple[Row]], what: str) -> Row:
    row = await session.scalar(query)
    if row is None:
        raise NotFound(f"no such {what}")
    return row


async def bot_in(session: AsyncSession, organization_id: uuid.UUID, bot_id: uuid.UUID) -> Bot:
    query = select(Bot).where(Bot.id == bot_id, Bot.organization_id == organization_id)
    return await _one(session, query, "bot")


def _in_organization(query: Select[Any], organization_id: uuid.UUID, bot_id: Any) -> Select[Any]:
    return query.join(Bot, Bot.id == bot_id).where(Bot.organization_id == organization_id)


async def flow_in(session: AsyncSession, organization_id: uuid.UUID, flow_id: uuid.UUID) -> Flow:
    query = _in_organization(select(Flow).where(Flow.id == flow_id), organization_id, Flow.bot_id)
    return await _one(session, query, "flow")


async def channel_in(
    session: AsyncSession, organization_id: uuid.UUID, channel_id: uuid.UUID
) -> Channel:
    query = select(Channel).where(Channel.id == channel_id)
    return await _one(session, _in_organization(query, organization_id, Channel.bot_id), "channel")


async def version_in(
    session: AsyncSession, organization_id: uuid.UUID, version_id: uuid.UUID
) -> FlowVersion:
    query = (
        select(FlowVersion)
        .join(Flow, Flow.id == FlowVersion.flow_id)
        .where(FlowVersion.id == version_id)
    )
    return await _one(
        session, _in_organization(query, organization_id, Flow.bot_id), "flow version"
    )
