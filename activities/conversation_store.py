"""Database activities of the engine: contacts, conversations, inbound messages, runs and steps."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Text, bindparam, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities import metrics
from models.bot_tables import Bot, Channel
from models.conversation_tables import Contact, Conversation, FlowRun
from models.db import bound
from models.flow_tables import Flow, FlowVersion
from models.messages import InboundMessage
from models.payloads import activity_names
from models.payloads.engine import (
    BotTraits,
    ConversationInput,
    ConversationRecord,
    FlowSnapshot,
    InboundRecorded,
    OpenedConversation,
    RunEnd,
    RunStart,
    StepRecord,
    UnstoredInbound,
)
from services.conversations.flow_runs import store_run_end, store_run_start
from services.conversations.flow_steps import store_steps
from services.conversations.inbound import store_inbound, store_unstored
from services.conversations.notify import (
    CONVERSATIONS_CHANNEL,
    notify_conversation,
    notifying,
)
from services.conversations.triggers import FlowCandidate, choose_flow
from services.webhooks import outbox as webhook_outbox
from workflows.conversation_base import conversation_workflow_id

DEFAULT_INACTIVITY_SECONDS = 24 * 3600

# The statements run for every message and flow run, built once: one compile and cache key
# per process instead of one per call (Core on the tables: no ORM bookkeeping per statement).
CONVERSATIONS = Conversation.__table__
RUNS = FlowRun.__table__
BOTS, CONTACTS, FLOWS, VERSIONS = (
    Bot.__table__,
    Contact.__table__,
    Flow.__table__,
    FlowVersion.__table__,
)
BOT = (  # the bot's traits: a contact is written only for a bot that exists
    select(BOTS.c.id, BOTS.c.name, BOTS.c.settings, BOTS.c.sensitive_data)
    .where(BOTS.c.id == bindparam("bot_id"))
    .cte("bot")
)
CONTACT_NAME = bindparam("contact_name", type_=Text)  # None keeps the name we have
SEEN = (
    insert(CONTACTS)
    .from_select(
        ["bot_id", "channel_kind", "external_id", "name"],
        select(BOT.c.id, bindparam("channel_kind"), bindparam("external_id"), CONTACT_NAME),
    )
    .on_conflict_do_update(
        index_elements=["bot_id", "channel_kind", "external_id"],
        set_={
            "last_seen_at": bindparam("seen_at", type_=DateTime(timezone=True)),
            "name": func.coalesce(CONTACT_NAME, CONTACTS.c.name),
        },
    )
    .returning(
        CONTACTS.c.id,
        CONTACTS.c.external_id,
        CONTACTS.c.name,
        CONTACTS.c.phone,
        CONTACTS.c.email,
        CONTACTS.c.attributes,
    )
    .cte("seen")
)
# The bot's traits and the contact, created or seen again: no row when the bot does not exist.
CONTACT_SEEN = select(
    BOT.c.name.label("bot_name"), BOT.c.settings, BOT.c.sensitive_data, *SEEN.c
).select_from(BOT.join(SEEN, literal_column("true")))
OPENED = (  # a new conversation, or the contact's earlier one active again
    insert(CONVERSATIONS)
    .values(**bound("bot_id", "channel_id", "contact_id", "workflow_id"), status="active")
    .on_conflict_do_update(
        index_elements=["workflow_id"],
        set_={
            "status": "active",
            "closed_at": None,
            "last_message_at": bindparam("opened_at", type_=DateTime(timezone=True)),
        },
    )
    .returning(
        CONVERSATIONS.c.id,
        CONVERSATIONS.c.bot_id,
        CONVERSATIONS.c.channel_id,
        CONVERSATIONS.c.contact_id,
        CONVERSATIONS.c.status,
        literal_column("xmax = 0").label("inserted"),
        notifying(CONVERSATIONS_CHANNEL, CONVERSATIONS.c.id).label("notified"),  # the inbox's
    )
    .cte("opened")
)
CONVERSATION_OPENED = select(  # with `conversation.started` when an endpoint subscribes
    OPENED.c.id, OPENED.c.inserted, OPENED.c.notified, webhook_outbox.NEW_ENDPOINTS
).add_cte(
    OPENED,  # before the CTEs that read it
    *webhook_outbox.emitting(
        webhook_outbox.CONVERSATION_SCOPE.format(conversations="opened", which="true")
    ),
)
RUN_COUNT = select(func.count()).where(RUNS.c.conversation_id == bindparam("conversation_id"))
# The bot's active flows with their published versions; one is the bot's default flow.
PUBLISHED_FLOWS = (
    select(
        FLOWS.c.id.label("flow_id"),
        FLOWS.c.name,
        FLOWS.c.id.is_not_distinct_from(BOTS.c.default_flow_id).label("is_default"),
        VERSIONS.c.id.label("version_id"),
        VERSIONS.c.version,
        VERSIONS.c.priority,
        VERSIONS.c.trigger,
        VERSIONS.c.definition,
    )
    .join(VERSIONS, VERSIONS.c.id == FLOWS.c.published_version_id)
    .join(BOTS, BOTS.c.id == FLOWS.c.bot_id)
    .where(FLOWS.c.bot_id == bindparam("bot_id"), FLOWS.c.is_active.is_(True))
)


def fact_key() -> str:
    """What identifies the calling activity across its retries (a webhook event's key)."""
    info = activity.info()
    return f"{info.workflow_run_id}/{info.activity_id}"


class ConversationStore:
    """Activities writing what conversations and flow runs do, for the API and analytics."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._channel_kinds: dict[str, str] = {}  # a channel's kind never changes

    @activity.defn(name=activity_names.OPEN_CONVERSATION)
    async def open_conversation(self, params: ConversationInput) -> ConversationRecord:
        """Create or reactivate the contact and its conversation with the bot."""
        async with self.sessions.begin() as session:
            return await self._open(session, params)

    @activity.defn(name=activity_names.OPEN_AND_RECORD)
    async def open_conversation_and_record(
        self, params: ConversationInput, message: InboundMessage, delivery_key: str
    ) -> OpenedConversation:
        """`open_conversation` and `record_inbound_and_match_flow` for its first message, in one
        transaction: what a new contact's first message needs."""
        async with self.sessions.begin() as session:
            record = await self._open(session, params)
            new, flow = await self._store_and_match(
                session,
                record.conversation_id,
                params.channel_id,
                message,
                delivery_key,
                params.bot_id,
            )
        self._count_inbound(params.channel_id, new)
        return OpenedConversation(
            conversation=record, first=InboundRecorded(new=new is not False, flow=flow)
        )

    async def _open(self, session: AsyncSession, params: ConversationInput) -> ConversationRecord:
        """The contact and its conversation, created or reactivated in the session's transaction."""
        now = datetime.now(UTC)
        bot_id = uuid.UUID(params.bot_id)
        seen = (  # the contact, with its bot's traits
            await session.execute(
                CONTACT_SEEN,
                {
                    "bot_id": bot_id,
                    "channel_kind": params.channel_kind,
                    "external_id": params.contact.external_id,
                    "contact_name": params.contact.name,
                    "seen_at": now,
                },
            )
        ).first()
        if seen is None:
            raise ValueError(f"bot {params.bot_id} does not exist")
        contact_id = seen.id
        workflow_id = conversation_workflow_id(
            params.bot_id, params.channel_id, params.contact.external_id
        )
        conversation_id, new, _, endpoints = (
            await session.execute(
                CONVERSATION_OPENED,
                {
                    "bot_id": bot_id,
                    "channel_id": uuid.UUID(params.channel_id),
                    "contact_id": contact_id,
                    "workflow_id": workflow_id,
                    "opened_at": now,
                    **webhook_outbox.event_params("conversation.started", fact_key(), None),
                },
            )
        ).one()
        webhook_outbox.wake_after_commit(session, endpoints)
        previous_runs = (  # a new conversation has none
            0 if new else await session.scalar(RUN_COUNT, {"conversation_id": conversation_id})
        )
        return ConversationRecord(
            conversation_id=str(conversation_id),
            contact_id=str(contact_id),
            contact={
                "id": str(seen.id),
                "external_id": seen.external_id,
                "name": seen.name or "",
                "phone": seen.phone or "",
                "email": seen.email or "",
                **seen.attributes,
            },
            inactivity_seconds=int(
                seen.settings.get("inactivity_timeout_seconds", DEFAULT_INACTIVITY_SECONDS)
            ),
            bot=BotTraits(name=seen.bot_name, sensitive_data=seen.sensitive_data),
            previous_runs=previous_runs or 0,
        )

    @activity.defn(name=activity_names.RECORD_INBOUND)
    async def record_inbound_message(
        self,
        conversation_id: str,
        channel_id: str,
        message: InboundMessage,
        delivery_key: str | None = None,
    ) -> bool:
        """Store an inbound message once per provider id; False when another delivery stored it.

        `delivery_key` names the workflow run handling this delivery: a retried workflow task
        re-runs this activity and finds the row its first attempt committed, which carries the
        same key, so the answer (True) is the same on every attempt. Without a key (histories
        from before it existed) any earlier row means False.
        """
        async with self.sessions.begin() as session:
            new = await self._store_inbound(
                session, conversation_id, channel_id, message, delivery_key
            )
        self._count_inbound(channel_id, new)
        return new is not False

    @activity.defn(name=activity_names.RECORD_AND_MATCH)
    async def record_inbound_and_match_flow(
        self,
        conversation_id: str,
        channel_id: str,
        message: InboundMessage,
        delivery_key: str,
        bot_id: str | None,
    ) -> InboundRecorded:
        """`record_inbound_message` and, for a new message when `bot_id` is given (no flow is
        running), `match_flow` on its text: one transaction for what an inbound message needs."""
        async with self.sessions.begin() as session:
            new, flow = await self._store_and_match(
                session, conversation_id, channel_id, message, delivery_key, bot_id
            )
        self._count_inbound(channel_id, new)
        return InboundRecorded(new=new is not False, flow=flow)

    async def _store_and_match(
        self,
        session: AsyncSession,
        conversation_id: str,
        channel_id: str,
        message: InboundMessage,
        delivery_key: str,
        bot_id: str | None,
    ) -> tuple[bool | None, FlowSnapshot | None]:
        """`_store_inbound`, then for a message not stored before, with `bot_id`, the flow its
        text starts."""
        new = await self._store_inbound(session, conversation_id, channel_id, message, delivery_key)
        if new is False or bot_id is None:
            return new, None
        return new, await self._match(session, bot_id, message.answer_text())

    async def _store_inbound(
        self,
        session: AsyncSession,
        conversation_id: str,
        channel_id: str,
        message: InboundMessage,
        delivery_key: str | None,
    ) -> bool | None:
        """`store_inbound`, learning the channel's kind (for the metric) once."""
        new = await store_inbound(session, conversation_id, channel_id, message, delivery_key)
        if new and channel_id not in self._channel_kinds:
            kind = await session.scalar(
                select(Channel.kind).where(Channel.id == uuid.UUID(channel_id))
            )
            self._channel_kinds[channel_id] = kind or "unknown"
        return new

    def _count_inbound(self, channel_id: str, new: bool | None) -> None:
        if new:
            metrics.message_in(self._channel_kinds[channel_id])

    @activity.defn(name=activity_names.MATCH_FLOW)
    async def match_flow(self, bot_id: str, text: str) -> FlowSnapshot | None:
        """The published flow version whose trigger matches the text, or the default flow."""
        async with self.sessions() as session:
            return await self._match(session, bot_id, text)

    async def _match(self, session: AsyncSession, bot_id: str, text: str) -> FlowSnapshot | None:
        versions = {
            str(row.flow_id): row
            for row in await session.execute(PUBLISHED_FLOWS, {"bot_id": uuid.UUID(bot_id)})
        }
        candidates = [
            FlowCandidate(
                flow_id=flow_id,
                priority=row.priority,
                trigger=row.trigger,
                is_default=row.is_default,
            )
            for flow_id, row in versions.items()
        ]
        chosen = choose_flow(candidates, text)
        if chosen is None:
            return None
        row = versions[chosen]
        return FlowSnapshot(
            flow_id=chosen,
            version_id=str(row.version_id),
            version=row.version,
            name=row.name,
            definition=row.definition,
        )

    @activity.defn(name=activity_names.SET_CONVERSATION_STATUS)
    async def set_conversation_status(self, conversation_id: str, status: str) -> None:
        closed = status in ("abandoned", "closed")
        async with self.sessions.begin() as session:
            await session.execute(
                update(Conversation)
                .where(Conversation.id == uuid.UUID(conversation_id))
                .values(status=status, closed_at=func.now() if closed else None)
            )
            await notify_conversation(session, conversation_id)
            await webhook_outbox.conversation_event(session, conversation_id, status, fact_key())

    @activity.defn(name=activity_names.BEGIN_FLOW_RUN)
    async def begin_flow_run(
        self,
        conversation_id: str,
        flow_id: str,
        version_id: str,
        workflow_id: str,
        variables: dict[str, Any],
    ) -> str:
        """Create the run's row (idempotent on its workflow id) and return its id: the runs of
        histories from before a run's start went with its first write."""
        start = RunStart(
            run_id=str(uuid.uuid4()),
            conversation_id=conversation_id,
            flow_id=flow_id,
            version_id=version_id,
            workflow_id=workflow_id,
            variables=variables,
        )
        async with self.sessions.begin() as session:
            run_id, inserted = await store_run_start(session, start)
        if inserted:
            metrics.flow_started()
        return str(run_id)

    @activity.defn(name=activity_names.RECORD_STEPS)
    async def record_flow_steps(
        self,
        steps: list[StepRecord],
        start: RunStart | None = None,
        inbound: list[UnstoredInbound] | None = None,  # given since FOLDED_WRITES
    ) -> None:
        """One row per executed node (a run's steps since its last wait, in order), after the
        answers the run took and the run's own row when this is its first write; a retried
        write does not duplicate them."""
        async with self.sessions.begin() as session:
            kinds = await store_unstored(session, inbound or [])
            started = start is not None and (await store_run_start(session, start))[1]
            if steps:
                await store_steps(session, steps)
        metrics.messages_in(kinds)
        if started:
            metrics.flow_started()
        metrics.node_errors(steps)

    @activity.defn(name=activity_names.FINISH_FLOW_RUN)
    async def finish_flow_run(self, end: RunEnd) -> None:
        """The run's end, with its steps (and start, and answers) not stored yet."""
        async with self.sessions.begin() as session:
            kinds = await store_unstored(session, end.inbound)
            started, ended = await store_run_end(session, end)
        metrics.messages_in(kinds)
        if started:
            metrics.flow_started()
        metrics.node_errors(end.steps)
        if ended:
            metrics.flow_finished(end.status)

    def activities(self) -> list[Any]:
        return [
            self.open_conversation,
            self.open_conversation_and_record,
            self.record_inbound_message,
            self.match_flow,
            self.record_inbound_and_match_flow,
            self.set_conversation_status,
            self.begin_flow_run,
            self.record_flow_steps,
            self.finish_flow_run,
        ]
