"""Activities of proactive starts: load a published flow, and hand contacts their start."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from models.engine import ContactRef, FlowSnapshot, StartFlow
from models.proactive import ProactiveStart
from models.tables import Flow, FlowVersion
from workflows import activity_names
from workflows.conversation_client import signal_conversation


class ProactiveStarter:
    """What `ProactiveStart` and `ConversationWorkflow.start_flow` need from the world."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], task_queue: str) -> None:
        self.sessions = sessions
        self.task_queue = task_queue

    @activity.defn(name=activity_names.LOAD_PUBLISHED_FLOW)
    async def load_published_flow(self, bot_id: str, flow_id: str) -> FlowSnapshot | None:
        """The bot's flow at its published version; None if it is not published and active."""
        async with self.sessions() as session:
            flow = await session.get(Flow, uuid.UUID(flow_id))
            if flow is None or str(flow.bot_id) != bot_id or not flow.is_active:
                return None
            if flow.published_version_id is None:
                return None
            version = await session.get(FlowVersion, flow.published_version_id)
        assert version is not None
        return FlowSnapshot(
            flow_id=str(flow.id), version_id=str(version.id), version=version.version,
            name=flow.name, definition=version.definition,
        )  # fmt: skip

    @activity.defn(name=activity_names.START_CONVERSATION_FLOWS)
    async def start_conversation_flows(self, batch: ProactiveStart) -> int:
        """Signal-with-start each contact's conversation with the flow; a retry is harmless
        (the conversation handles a request id once). Returns how many were handed over."""
        client = activity.client()
        start = StartFlow(flow_id=batch.flow_id, request_id=batch.request_id)
        for contact in batch.contacts:
            await signal_conversation(
                client, self.task_queue, batch.bot_id, batch.channel_id, batch.channel_kind,
                ContactRef(external_id=contact), "start_flow", start,
            )  # fmt: skip
            activity.heartbeat()
        return len(batch.contacts)

    def activities(self) -> list[object]:
        return [self.load_published_flow, self.start_conversation_flows]
