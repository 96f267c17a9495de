"""GraphQL object types of the inbox: conversations, contacts, messages, notes, runs, steps."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import Enum

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graphql_api.graph.context import ContextInfo, platform_of
from graphql_api.graph.limits import page_size
from graphql_api.graph.loaders import MessagesKey
from graphql_api.graph.types import gid
from models import conversation_tables as rows
from models.conversation_tables import ConversationNote
from models.settings import Settings
from services.conversations import queries
from workflows.run_client import query_position, run_page

POSITION_QUERY_TIMEOUT = timedelta(seconds=2)


def temporal_url(settings: Settings, workflow_id: str) -> str:
    """The workflow's page in the Temporal UI (a flow run's: the workflow run it began in)."""
    return run_page(settings, workflow_id)


def optional_id(value: uuid.UUID | None) -> strawberry.ID | None:
    return gid(value) if value else None


@strawberry.enum
class ConversationStatus(Enum):
    ACTIVE = "active"
    HANDED_OFF = "handed_off"
    ABANDONED = "abandoned"
    CLOSED = "closed"


@strawberry.type(description="Someone a bot talks to; `externalId` is the phone or web id.")
class Contact:
    id: strawberry.ID
    external_id: str
    name: str | None
    phone: str | None
    email: str | None


@strawberry.type(description="A message in (from the contact) or out (from the bot or an agent).")
class Message:
    id: strawberry.ID
    conversation_id: strawberry.ID
    direction: str
    type: str
    text: str | None
    content: JSON
    status: str
    sent_by_user_id: strawberry.ID | None = strawberry.field(
        description="The agent who wrote an outbound message; null: the bot."
    )
    created_at: datetime

    @classmethod
    def of(cls, row: rows.Message) -> Message:
        return cls(
            id=gid(row.id),
            conversation_id=gid(row.conversation_id),
            direction=row.direction,
            type=row.type,
            text=row.text,
            content=row.content,
            status=row.status,
            sent_by_user_id=optional_id(row.sent_by_user_id),
            created_at=row.created_at,
        )


@strawberry.type
class MessagePage:
    items: list[Message]
    next_cursor: str | None = strawberry.field(description="Pass as `after`; null: no more.")


@strawberry.type(description="An agent's private note; the contact never sees it.")
class Note:
    id: strawberry.ID
    conversation_id: strawberry.ID
    author_user_id: strawberry.ID | None
    body: str
    created_at: datetime

    @classmethod
    def of(cls, row: ConversationNote) -> Note:
        return cls(
            id=gid(row.id),
            conversation_id=gid(row.conversation_id),
            author_user_id=optional_id(row.author_user_id),
            body=row.body,
            created_at=row.created_at,
        )


@strawberry.type(description="One executed node; `outcome` is the handle it left by, or error.")
class FlowRunStep:
    sequence: int
    node_id: str
    node_type: str
    outcome: str | None
    started_at: datetime
    ended_at: datetime | None
    duration_ms: int | None
    error: JSON | None


@strawberry.type(description="One run of a pinned flow version in the conversation.")
class FlowRun:
    id: strawberry.ID
    flow_id: strawberry.ID
    flow_version_id: strawberry.ID
    status: str
    current_node_id: str | None
    variables: JSON
    started_at: datetime
    ended_at: datetime | None
    error: JSON | None
    workflow_id: str
    temporal_url: str
    steps: list[FlowRunStep]

    @classmethod
    def of(cls, run: rows.FlowRun, steps: list[rows.FlowRunStep], settings: Settings) -> FlowRun:
        return cls(
            id=gid(run.id),
            flow_id=gid(run.flow_id),
            flow_version_id=gid(run.flow_version_id),
            status=run.status,
            current_node_id=run.current_node_id,
            variables=run.variables,
            started_at=run.started_at,
            ended_at=run.ended_at,
            error=run.error,
            workflow_id=run.workflow_id,
            temporal_url=temporal_url(settings, run.workflow_id),
            steps=[
                FlowRunStep(
                    sequence=s.sequence,
                    node_id=s.node_id,
                    node_type=s.node_type,
                    outcome=s.outcome,
                    started_at=s.started_at,
                    ended_at=s.ended_at,
                    duration_ms=s.duration_ms,
                    error=s.error,
                )
                for s in steps
            ],
        )


@strawberry.type(description="Where the active run is: from its workflow, else as last stored.")
class RunPosition:
    run_id: strawberry.ID
    node_id: str | None
    waiting: bool | None = strawberry.field(description="Waits for the contact; null: unknown.")
    variables: JSON
    source: str = strawberry.field(description="`temporal` (live) or `database` (last stored).")


ACTIVE_RUN_STATUSES = ("running", "waiting", "handed_off")


async def live_position(info: Info, run: rows.FlowRun) -> RunPosition:
    """Ask the run's workflow; when it cannot answer, the run as last stored."""
    try:
        client = await platform_of(info).temporal()
        answer = await query_position(client, run.workflow_id, POSITION_QUERY_TIMEOUT)
        if answer is None:
            raise LookupError("the run is no longer its conversation's active one")
        return RunPosition(
            run_id=gid(run.id),
            node_id=answer.get("node_id"),
            waiting=answer.get("waiting"),
            variables=answer.get("variables") or {},
            source="temporal",
        )
    except Exception:  # the workflow is gone, no worker answers, or Temporal is down
        return RunPosition(
            run_id=gid(run.id),
            node_id=run.current_node_id,
            waiting=None,
            variables=run.variables,
            source="database",
        )


@strawberry.type(description="A contact's conversation with a bot on a channel.")
class Conversation:
    id: strawberry.ID
    bot_id: strawberry.ID
    channel_id: strawberry.ID
    channel_kind: str
    contact: Contact
    status: ConversationStatus
    tags: list[str]
    assigned_user_id: strawberry.ID | None = strawberry.field(description="The agent who has it.")
    started_at: datetime
    last_message_at: datetime
    closed_at: datetime | None
    current_flow_run_id: strawberry.ID | None
    workflow_id: str
    temporal_url: str = strawberry.field(description="The conversation's workflow in Temporal UI.")

    @classmethod
    def of(cls, row: queries.ConversationRow, settings: Settings) -> Conversation:
        c, contact = row.conversation, row.contact
        return cls(
            id=gid(c.id),
            bot_id=gid(c.bot_id),
            channel_id=gid(c.channel_id),
            channel_kind=row.channel_kind,
            contact=Contact(
                id=gid(contact.id),
                external_id=contact.external_id,
                name=contact.name,
                phone=contact.phone,
                email=contact.email,
            ),
            status=ConversationStatus(c.status),
            tags=list(c.tags),
            assigned_user_id=optional_id(c.assigned_user_id),
            started_at=c.started_at,
            last_message_at=c.last_message_at,
            closed_at=c.closed_at,
            current_flow_run_id=optional_id(c.current_flow_run_id),
            workflow_id=c.workflow_id,
            temporal_url=temporal_url(settings, c.workflow_id),
        )

    @strawberry.field(description="Oldest first, `first` at a time (at most 100).")
    async def messages(
        self, info: ContextInfo, first: int = 50, after: str | None = None
    ) -> MessagePage:
        key = MessagesKey(uuid.UUID(self.id), page_size(first), after)
        found, cursor = await info.context.loaders.messages_of_conversation.load(key)
        return MessagePage(items=[Message.of(row) for row in found], next_cursor=cursor)

    @strawberry.field(description="Agents' notes, oldest first.")
    async def notes(self, info: ContextInfo) -> list[Note]:
        rows = await info.context.loaders.notes_of_conversation.load(uuid.UUID(self.id))
        return [Note.of(row) for row in rows]

    @strawberry.field(description="The conversation's flow runs, newest first, with their steps.")
    async def flow_runs(self, info: ContextInfo) -> list[FlowRun]:
        settings, loaders = info.context.platform.settings, info.context.loaders
        runs = await loaders.runs_of_conversation.load(uuid.UUID(self.id))
        steps = await loaders.steps_of_run.load_many([run.id for run in runs])
        pairs = zip(runs, steps, strict=True)
        return [FlowRun.of(run, run_steps, settings) for run, run_steps in pairs]

    @strawberry.field(description="The active run's current node and variables; null: none.")
    async def position(self, info: ContextInfo) -> RunPosition | None:
        if self.current_flow_run_id is None:
            return None
        found = await info.context.loaders.run.load(uuid.UUID(self.current_flow_run_id))
        run = found[0] if found else None
        if run is None or run.status not in ACTIVE_RUN_STATUSES:
            return None  # the run has ended (its conversation forgets it a moment later)
        return await live_position(info, run)


@strawberry.type
class ConversationPage:
    items: list[Conversation]
    next_cursor: str | None = strawberry.field(description="Pass as `after`; null: no more.")
