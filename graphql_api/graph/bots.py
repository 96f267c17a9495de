"""GraphQL for bots and their channels."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.scalars import JSON
from strawberry.types import Info
from temporalio.service import RPCError, RPCStatusCode

from graphql_api.auth import MANAGERS
from graphql_api.graph.context import deadlock_retried, platform_of, require_caller, transaction
from graphql_api.graph.limits import DEFAULT_PAGE_SIZE, page_size
from graphql_api.graph.types import Bot, Channel, ChannelKind
from graphql_api.ids import parse_id
from models.bot_tables import Bot as BotRow
from models.errors import InvalidInput
from models.secret_box import SecretBox
from services.bots import management as bots
from services.tenancy import bot_in, channel_in

logger = logging.getLogger(__name__)


def json_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a JSON object")
    return value


def secret_box(info: Info) -> SecretBox:
    return SecretBox(platform_of(info).settings.resolved_secret_key())


@strawberry.input
class BotInput:
    name: str
    description: str = ""
    settings: JSON | None = None
    sensitive_data: bool = strawberry.field(
        default=False,
        description="The bot handles sensitive data: no message text in the Temporal UI.",
    )


@strawberry.input(description="Only the fields given change.")
class BotUpdate:
    name: str | None = None
    description: str | None = None
    settings: JSON | None = None
    sensitive_data: bool | None = None


@strawberry.input(description="Config and secrets follow the kind's shape (see the README).")
class ChannelInput:
    kind: ChannelKind
    name: str = ""
    config: JSON = strawberry.field(default_factory=dict)
    secrets: JSON = strawberry.field(default_factory=dict, description="Write-only.")


@strawberry.input(description="Only the fields given change; `secrets` replaces all secrets.")
class ChannelUpdate:
    name: str | None = None
    config: JSON | None = None
    secrets: JSON | None = None


def optional_object(value: Any, what: str) -> dict[str, Any] | None:
    return None if value is None else json_object(value, what)


@strawberry.type
class BotQuery:
    @strawberry.field(description="The organization's bots, by name.")
    async def bots(self, info: Info, first: int = DEFAULT_PAGE_SIZE, offset: int = 0) -> list[Bot]:
        caller = await require_caller(info)
        limit = page_size(first)
        async with transaction(info) as session:
            rows = await session.scalars(
                select(BotRow)
                .where(BotRow.organization_id == caller.organization_id)
                .order_by(BotRow.name)
                .limit(limit)
                .offset(max(offset, 0))
            )
            return [Bot.of(row) for row in rows]

    @strawberry.field
    async def bot(self, info: Info, id: strawberry.ID) -> Bot:
        caller = await require_caller(info)
        async with transaction(info) as session:
            return Bot.of(await bot_in(session, caller.organization_id, parse_id(id, "bot")))

    @strawberry.field
    async def channel(self, info: Info, id: strawberry.ID) -> Channel:
        caller = await require_caller(info)
        async with transaction(info) as session:
            row = await channel_in(session, caller.organization_id, parse_id(id, "channel"))
        return Channel.of(row, platform_of(info).settings.resolved_public_url())


@strawberry.type
class BotMutation:
    @strawberry.mutation
    async def create_bot(self, info: Info, input: BotInput) -> Bot:
        caller = await require_caller(info, MANAGERS)
        settings = optional_object(input.settings, "settings")
        async with transaction(info) as session:
            row = await bots.new_bot(
                session,
                caller.organization_id,
                input.name,
                input.description,
                settings,
                sensitive_data=input.sensitive_data,
            )
        return Bot.of(row)

    @strawberry.mutation
    async def update_bot(self, info: Info, id: strawberry.ID, input: BotUpdate) -> Bot:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            row = await bot_in(session, caller.organization_id, parse_id(id, "bot"))
            await bots.update_bot(
                session,
                row,
                input.name,
                input.description,
                optional_object(input.settings, "settings"),
                sensitive_data=input.sensitive_data,
            )
        return Bot.of(row)

    @strawberry.mutation(description="Delete a bot with its flows, channels and conversations.")
    async def delete_bot(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        caller = await require_caller(info, MANAGERS)
        bot_id = parse_id(id, "bot")
        async with transaction(info) as session:
            await bot_in(session, caller.organization_id, bot_id)
        # Conversations ended first leave fewer writers for the cascade to meet.
        await stop_conversations(info, str(bot_id))

        async def delete(session: AsyncSession) -> None:
            await session.delete(await bot_in(session, caller.organization_id, bot_id))

        await deadlock_retried(info, delete)
        await stop_conversations(info, str(bot_id))  # any that started meanwhile
        return id

    @strawberry.mutation(description="Connect a channel; configure its webhook URLs upstream.")
    async def connect_channel(
        self, info: Info, bot_id: strawberry.ID, input: ChannelInput
    ) -> Channel:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            bot = await bot_in(session, caller.organization_id, parse_id(bot_id, "bot"))
            row = await bots.connect_channel(
                session,
                secret_box(info),
                bot,
                input.kind.value,
                input.name,
                json_object(input.config, "config"),
                json_object(input.secrets, "secrets"),
            )
        return Channel.of(row, platform_of(info).settings.resolved_public_url())

    @strawberry.mutation
    async def update_channel(self, info: Info, id: strawberry.ID, input: ChannelUpdate) -> Channel:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            row = await channel_in(session, caller.organization_id, parse_id(id, "channel"))
            await bots.update_channel(
                session,
                secret_box(info),
                row,
                input.name,
                optional_object(input.config, "config"),
                optional_object(input.secrets, "secrets"),
            )
        return Channel.of(row, platform_of(info).settings.resolved_public_url())

    @strawberry.mutation(description="Stop a channel and forget its secrets; history stays.")
    async def disconnect_channel(self, info: Info, id: strawberry.ID) -> Channel:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            row = await channel_in(session, caller.organization_id, parse_id(id, "channel"))
            await bots.disconnect_channel(session, row)
        return Channel.of(row, platform_of(info).settings.resolved_public_url())


async def stop_conversations(info: Info, bot_id: str) -> None:
    """End the deleted bot's running conversations and flow runs: they have nothing left to
    run against. Best effort: what cannot be reached now ends at its inactivity timeout."""
    try:
        client = await platform_of(info).temporal()
        query = f"BotId = '{bot_id}' AND ExecutionStatus = 'Running'"
        async for execution in client.list_workflows(query):
            try:
                await client.get_workflow_handle(execution.id).terminate("the bot was deleted")
            except RPCError as err:  # it ended meanwhile (visibility lags): go on with the rest
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
    except RPCError as err:
        logger.warning("could not stop the conversations of deleted bot %s: %s", bot_id, err)
