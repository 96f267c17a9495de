"""GraphQL for the inbox: list and read conversations; agents take over, write, note, tag,
release and close them. Every action goes through the conversation's workflow (an update), so
it is durable and ordered with the contact's own messages."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from activities.inbox_store import InboxStore
from graphql_api.auth import Caller
from graphql_api.graph.context import platform_of, require_caller, transaction
from graphql_api.graph.conversation_types import (
    Conversation,
    ConversationPage,
    ConversationStatus,
    Message,
    Note,
)
from graphql_api.graph.limits import DEFAULT_PAGE_SIZE, page_size
from graphql_api.ids import parse_id
from models import conversation_tables as rows
from models.agent_actions import AgentAction, agent_action_problem
from models.conversation_tables import ConversationNote
from models.errors import DomainError, InvalidInput
from models.payloads.engine import ContactRef
from services.conversations.queries import (
    ConversationFilter,
    ConversationRow,
    conversation_in,
    conversation_page,
)
from services.tenancy import bot_in, channel_in
from workflows.conversation_client import act_on_conversation, conversation_start

log = logging.getLogger(__name__)

# Statuses with which the server refuses an update that did nothing: the run was closing or
# continuing as new, the workflow was busy, or its workflow task failed under the update.
TRANSIENT = {RPCStatusCode.ABORTED, RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.UNAVAILABLE}
UPDATE_RETRY_DELAYS = (0.1, 0.3, 1.0, 2.0)
UNREACHABLE = "the conversation engine is unreachable; try again"


class ActionRefused(DomainError):
    """The conversation is not in a state that allows the action (e.g. not taken over)."""

    code = "ACTION_REFUSED"


class EngineUnavailable(DomainError):
    """Temporal cannot be reached; nothing was done."""

    code = "SERVICE_UNAVAILABLE"


@strawberry.enum
class ReleaseMode(Enum):
    RESUME = "resume"
    END = "end"


async def _conversation(info: Info, caller: Caller, conversation_id: str) -> ConversationRow:
    async with transaction(info) as session:
        return await conversation_in(
            session, caller.organization_id, parse_id(conversation_id, "conversation")
        )


async def _reread(info: Info, caller: Caller, conversation_id: str) -> Conversation:
    row = await _conversation(info, caller, conversation_id)
    return Conversation.of(row, platform_of(info).settings)


async def agent_action(
    info: Info, caller: Caller, conversation_id: str, action: AgentAction
) -> str | None:
    """Run `action` through the conversation's workflow; the id it stored, if any.

    Taking over starts the workflow again when the conversation has ended; a note, tags or
    closing an ended conversation are written directly (no workflow runs to order with). An
    update the server aborts (its run closed, continued as new, or lost its workflow task) is
    asked again, briefly, with the same update id.
    """
    problem = agent_action_problem(action, handed_off=True)  # the state-free checks, first
    if problem:
        raise InvalidInput(problem)
    row = await _conversation(info, caller, conversation_id)
    key = str(uuid.uuid4())  # one update id for every attempt: a retry never acts twice
    delays = iter(UPDATE_RETRY_DELAYS)
    while True:
        try:
            return await _update(info, row, action, key)
        except WorkflowUpdateFailedError as err:
            raise ActionRefused(str(getattr(err.cause, "message", None) or err.cause)) from None
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return await _without_workflow(info, row, action, key)
            delay = next(delays, None)
            if err.status not in TRANSIENT or delay is None:
                log.warning("agent action %s: %s %s", action.kind, err.status.name, err.message)
                raise EngineUnavailable(UNREACHABLE) from err
            # The run closed or continued as new while the update was in flight, or the server
            # dropped it with a failed workflow task: nothing was done, so ask again.
            await asyncio.sleep(delay)


async def _update(info: Info, row: ConversationRow, action: AgentAction, key: str) -> str | None:
    """The action as an update of the conversation's workflow (started again to take over)."""
    platform = platform_of(info)
    client = await platform.temporal()
    conversation = row.conversation
    start = None
    if action.kind == "take_over":
        start = conversation_start(
            platform.settings.task_queue,
            str(conversation.bot_id),
            str(conversation.channel_id),
            row.channel_kind,
            ContactRef(external_id=row.contact.external_id, name=row.contact.name),
        )
    return await act_on_conversation(client, conversation.workflow_id, action, key, start)


async def _without_workflow(
    info: Info, row: ConversationRow, action: AgentAction, key: str
) -> str | None:
    """An action on a conversation whose workflow has ended."""
    if action.kind in ("release", "send"):  # nobody has taken it over
        raise ActionRefused(agent_action_problem(action, handed_off=False) or "not taken over")
    status = "closed" if action.kind == "close" else None
    if action.kind == "close" and row.conversation.status == "closed":
        return None
    store = InboxStore(platform_of(info).sessions)
    return await store.record_agent_action(str(row.conversation.id), action, status, key)


def _action(caller: Caller, kind: str, **fields: object) -> AgentAction:
    user = str(caller.user_id) if caller.user_id else None
    return AgentAction.model_validate({"kind": kind, "user_id": user, **fields})


@strawberry.type
class ConversationQuery:
    @strawberry.field(description="Newest activity first; filters combine (all must hold).")
    async def conversations(
        self,
        info: Info,
        bot_id: strawberry.ID | None = None,
        channel_id: strawberry.ID | None = None,
        status: ConversationStatus | None = None,
        contact: str | None = None,
        text: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> ConversationPage:
        caller = await require_caller(info)
        limit = page_size(first)
        org = caller.organization_id
        async with transaction(info) as session:
            bot = await bot_in(session, org, parse_id(bot_id, "bot")) if bot_id else None
            channel = (
                await channel_in(session, org, parse_id(channel_id, "channel"))
                if channel_id
                else None
            )
            where = ConversationFilter(
                bot_id=bot.id if bot else None,
                channel_id=channel.id if channel else None,
                status=status.value if status else None,
                contact=contact or None,
                text=text,
                since=since,
                until=until,
            )
            found, cursor = await conversation_page(session, org, where, limit, after)
        settings = platform_of(info).settings
        return ConversationPage(
            items=[Conversation.of(row, settings) for row in found], next_cursor=cursor
        )

    @strawberry.field
    async def conversation(self, info: Info, id: strawberry.ID) -> Conversation:
        caller = await require_caller(info)
        return await _reread(info, caller, id)


@strawberry.type
class ConversationMutation:
    @strawberry.mutation(description="An agent takes the conversation: the bot stops for it.")
    async def take_over_conversation(self, info: Info, id: strawberry.ID) -> Conversation:
        caller = await require_caller(info)
        await agent_action(info, caller, id, _action(caller, "take_over"))
        return await _reread(info, caller, id)

    @strawberry.mutation(description="Write to the contact as the agent (take it over first).")
    async def send_agent_message(
        self, info: Info, conversation_id: strawberry.ID, text: str
    ) -> Message:
        caller = await require_caller(info)
        message_id = await agent_action(
            info, caller, conversation_id, _action(caller, "send", text=text)
        )
        async with transaction(info) as session:
            row = await session.get(rows.Message, uuid.UUID(str(message_id)))
        assert row is not None
        return Message.of(row)

    @strawberry.mutation(description="A private note for the team.")
    async def add_conversation_note(
        self, info: Info, conversation_id: strawberry.ID, body: str
    ) -> Note:
        caller = await require_caller(info)
        note_id = await agent_action(
            info, caller, conversation_id, _action(caller, "note", text=body)
        )
        async with transaction(info) as session:
            row = await session.get(ConversationNote, uuid.UUID(str(note_id)))
        assert row is not None
        return Note.of(row)

    @strawberry.mutation(description="Replace the conversation's tags.")
    async def set_conversation_tags(
        self, info: Info, id: strawberry.ID, tags: list[str]
    ) -> Conversation:
        caller = await require_caller(info)
        await agent_action(info, caller, id, _action(caller, "tags", tags=tags))
        return await _reread(info, caller, id)

    @strawberry.mutation(description="Give it back to the bot: RESUME the paused flow or END it.")
    async def release_conversation(
        self, info: Info, id: strawberry.ID, mode: ReleaseMode = ReleaseMode.RESUME
    ) -> Conversation:
        caller = await require_caller(info)
        await agent_action(info, caller, id, _action(caller, "release", release_mode=mode.value))
        return await _reread(info, caller, id)

    @strawberry.mutation(description="Close it (ends its flow); the contact writing reopens it.")
    async def close_conversation(self, info: Info, id: strawberry.ID) -> Conversation:
        caller = await require_caller(info)
        await agent_action(info, caller, id, _action(caller, "close"))
        return await _reread(info, caller, id)
