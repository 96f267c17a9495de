"""GraphQL subscriptions (graphql-transport-ws on /graphql) for live inbox panels.

Authenticate with the same token as queries, sent in `connection_init`'s payload as
`{"Authorization": "Bearer <token>"}`; a bot or conversation of another organization answers
`NOT_FOUND`, exactly like one that does not exist.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from graphql_api.auth import still_allowed
from graphql_api.graph.context import platform_of, require_caller, transaction
from graphql_api.graph.conversation_types import Conversation, Message
from graphql_api.ids import parse_id
from graphql_api.live_updates import Kind
from models.conversation_tables import Message as MessageRow
from models.errors import InvalidInput
from services.conversations.queries import ConversationRow, conversation_in
from services.tenancy import bot_in

ACCESS_RECHECK_SECONDS = 30.0


async def _target(
    info: Info, bot_id: strawberry.ID | None, conversation_id: strawberry.ID | None
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """The caller's bot or conversation to follow (exactly one of them)."""
    caller = await require_caller(info)
    if (bot_id is None) == (conversation_id is None):
        raise InvalidInput("give either `botId` or `conversationId`")
    async with transaction(info) as session:
        if bot_id is not None:
            return (await bot_in(session, caller.organization_id, parse_id(bot_id, "bot"))).id, None
        row = await conversation_in(
            session, caller.organization_id, parse_id(conversation_id, "conversation")
        )
    return None, row.conversation.id


async def _updates(
    info: Info, kind: Kind, bot_id: strawberry.ID | None, conversation_id: strawberry.ID | None
) -> AsyncGenerator[MessageRow | ConversationRow, None]:
    """The updates for the target; before passing one on, at most every `ACCESS_RECHECK_SECONDS`,
    checks the caller still has access (a removed member or revoked key is cut off)."""
    bot, conversation = await _target(info, bot_id, conversation_id)
    caller, platform = await require_caller(info), platform_of(info)
    checked = time.monotonic()
    async with platform.live_updates.subscribe(kind, bot, conversation) as queue:
        while True:
            update = await queue.get()
            if time.monotonic() - checked >= ACCESS_RECHECK_SECONDS:
                await still_allowed(platform, caller)
                checked = time.monotonic()
            yield update


@strawberry.type
class ConversationSubscription:
    @strawberry.subscription(
        description="Each new message, and each status change of one (sent, delivered ...), "
        "of a bot's conversations or of one conversation."
    )
    async def messages(
        self,
        info: Info,
        bot_id: strawberry.ID | None = None,
        conversation_id: strawberry.ID | None = None,
    ) -> AsyncGenerator[Message, None]:
        async for row in _updates(info, "message", bot_id, conversation_id):
            assert isinstance(row, MessageRow)
            yield Message.of(row)

    @strawberry.subscription(
        description="A conversation as it changes (opened, taken over, tagged, noted, "
        "released, closed), for a bot or one conversation."
    )
    async def conversation_updates(
        self,
        info: Info,
        bot_id: strawberry.ID | None = None,
        conversation_id: strawberry.ID | None = None,
    ) -> AsyncGenerator[Conversation, None]:
        settings = platform_of(info).settings
        async for row in _updates(info, "conversation", bot_id, conversation_id):
            assert isinstance(row, ConversationRow)
            yield Conversation.of(row, settings)
