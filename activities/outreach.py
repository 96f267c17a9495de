"""Activities of proactive starts: start a batch of an outreach's contacts, then close it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError

from models.bot_tables import Channel
from models.flow_tables import Flow, FlowVersion
from models.outreach_tables import Outreach, OutreachContact
from models.payloads import activity_names
from models.payloads.engine import ContactRef, FlowSnapshot, FlowStart
from workflows.conversation_client import start_flow_for_contact


class OutreachStarter:
    """Starts each contact's flow through its conversation (update-with-start), so a contact
    already talking to the bot or to an agent is not interrupted: that start fails, with why."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn(name=activity_names.START_OUTREACH_BATCH)
    async def start_outreach_batch(self, outreach_id: str, position: int) -> int | None:
        """Start the next pending contacts (at most `messages_per_second`) from `position`;
        the position after them, or None when none are left."""
        async with self.sessions() as session:
            outreach = await session.get(Outreach, uuid.UUID(outreach_id))
            if outreach is None:
                return None
            channel = await session.get(Channel, outreach.channel_id)
            flow = await session.get(Flow, outreach.flow_id)
            version = await session.get(FlowVersion, outreach.flow_version_id)
            contacts = (
                await session.scalars(
                    select(OutreachContact)
                    .where(
                        OutreachContact.outreach_id == outreach.id,
                        OutreachContact.position >= position,
                        OutreachContact.status == "pending",
                    )
                    .order_by(OutreachContact.position)
                    .limit(outreach.messages_per_second)
                )
            ).all()
        if not contacts or channel is None or flow is None or version is None:
            return None
        snapshot = FlowSnapshot(
            flow_id=str(flow.id),
            version_id=str(version.id),
            version=version.version,
            name=flow.name,
            definition=version.definition,
        )
        await asyncio.gather(*(self._start(channel, snapshot, contact) for contact in contacts))
        return contacts[-1].position + 1

    async def _start(self, channel: Channel, flow: FlowSnapshot, contact: OutreachContact) -> None:
        conversation: str | None = None
        if not channel.is_active:
            started, reason = False, "the channel is disconnected"
        else:
            try:
                result = await start_flow_for_contact(
                    activity.client(),
                    activity.info().task_queue,
                    channel,
                    ContactRef(external_id=contact.external_id, name=contact.name),
                    FlowStart(key=f"outreach-{contact.id}", flow=flow),
                )
                started, reason, conversation = (
                    result.started,
                    result.reason,
                    result.conversation_id,
                )
            except WorkflowUpdateFailedError as err:
                started, reason = False, str(getattr(err.cause, "message", None) or err.cause)
        async with self.sessions.begin() as session:
            await session.execute(
                update(OutreachContact)
                .where(OutreachContact.id == contact.id)
                .values(
                    status="started" if started else "failed",
                    error=reason,
                    conversation_id=uuid.UUID(conversation) if conversation else None,
                    updated_at=func.now(),
                )
            )
        activity.heartbeat()

    @activity.defn(name=activity_names.FINISH_OUTREACH)
    async def finish_outreach(self, outreach_id: str, error: str | None) -> None:
        """Mark the outreach done; contacts never started fail with `error`."""
        key = uuid.UUID(outreach_id)
        async with self.sessions.begin() as session:
            await session.execute(
                update(OutreachContact)
                .where(OutreachContact.outreach_id == key, OutreachContact.status == "pending")
                .values(status="failed", error=error or "not started", updated_at=func.now())
            )
            await session.execute(
                update(Outreach)
                .where(Outreach.id == key)
                .values(status="completed", finished_at=func.now())
            )

    def activities(self) -> list[Any]:
        return [self.start_outreach_batch, self.finish_outreach]
