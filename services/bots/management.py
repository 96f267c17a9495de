"""Managing bots and their channels: checked names, validated channel settings, sealed secrets."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.config import CHANNEL_KINDS, CONFIG_MODELS, SECRET_MODELS
from flowlang.graph import MAX_DESCRIPTION_LENGTH, MAX_NAME_LENGTH
from models.bot_tables import Bot, Channel
from models.errors import InvalidInput, checked_settings
from models.secret_box import SecretBox
from services.bots.publishing import add_channel, create_bot
from services.webhooks import outbox as webhook_outbox


async def check_unique_name(
    session: AsyncSession,
    name_column: Any,
    scope: Any,
    name: str,
    own_id: uuid.UUID | None,
    what: str,
) -> str:
    """`name` stripped, refused when empty or used by another row in `scope`."""
    name = name.strip()
    if not name:
        raise InvalidInput(f"the {what} needs a name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"the {what}'s name is longer than {MAX_NAME_LENGTH} characters")
    id_column = name_column.class_.id
    taken = await session.scalar(select(id_column).where(scope, name_column == name))
    if taken and taken != own_id:
        raise InvalidInput(f"a {what} named {name!r} already exists")
    return name


async def check_bot_name(
    session: AsyncSession, organization_id: uuid.UUID, name: str, bot_id: uuid.UUID | None = None
) -> str:
    scope = Bot.organization_id == organization_id
    return await check_unique_name(session, Bot.name, scope, name, bot_id, "bot")


def checked_description(description: str, what: str) -> str:
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidInput(
            f"the {what}'s description is longer than {MAX_DESCRIPTION_LENGTH} characters"
        )
    return description


async def new_bot(
    session: AsyncSession,
    organization_id: uuid.UUID,
    name: str,
    description: str = "",
    settings: dict[str, Any] | None = None,
    *,
    sensitive_data: bool = False,
) -> Bot:
    name = await check_bot_name(session, organization_id, name)
    description = checked_description(description, "bot")
    return await create_bot(
        session, organization_id, name, settings or {}, description, sensitive_data
    )


async def update_bot(
    session: AsyncSession,
    bot: Bot,
    name: str | None = None,
    description: str | None = None,
    settings: dict[str, Any] | None = None,
    *,
    sensitive_data: bool | None = None,
) -> Bot:
    if sensitive_data is not None:
        bot.sensitive_data = sensitive_data
    if name is not None:
        bot.name = await check_bot_name(session, bot.organization_id, name, bot.id)
    if description is not None:
        bot.description = checked_description(description, "bot")
    if settings is not None:
        bot.settings = settings
    await session.flush()
    await session.refresh(bot)  # loads the new updated_at
    return bot


def checked_channel_settings(
    kind: str, config: dict[str, Any], secrets: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The config and secrets validated for the kind, or every problem in one `InvalidInput`."""
    if kind not in CHANNEL_KINDS:
        raise InvalidInput(
            f"unknown channel kind {kind!r}; expected one of {', '.join(CHANNEL_KINDS)}"
        )
    return checked_settings(
        f"{kind} channel", (CONFIG_MODELS[kind], config), (SECRET_MODELS[kind], secrets)
    )


async def connect_channel(
    session: AsyncSession,
    box: SecretBox,
    bot: Bot,
    kind: str,
    name: str,
    config: dict[str, Any],
    secrets: dict[str, Any],
) -> Channel:
    """A new active channel; secrets are stored encrypted and never returned."""
    config, secrets = checked_channel_settings(kind, config, secrets)
    sealed = box.encrypt(secrets) if secrets else None
    return await add_channel(session, bot.id, kind, name.strip() or kind, config, sealed)


async def update_channel(
    session: AsyncSession,
    box: SecretBox,
    channel: Channel,
    name: str | None = None,
    config: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> Channel:
    """Change the name, the config or replace the secrets (each only when given)."""
    if not channel.is_active:
        raise InvalidInput("this channel is disconnected; connect a new one instead")
    if config is not None or secrets is not None:
        current_secrets = (
            box.decrypt(channel.secrets_encrypted) if channel.secrets_encrypted else {}
        )
        new_config, new_secrets = checked_channel_settings(
            channel.kind,
            channel.config if config is None else config,
            current_secrets if secrets is None else secrets,
        )
        channel.config = new_config
        channel.secrets_encrypted = box.encrypt(new_secrets) if new_secrets else None
    if name is not None and name.strip():
        channel.name = name.strip()
    await session.flush()
    return channel


async def disconnect_channel(session: AsyncSession, channel: Channel) -> Channel:
    """Stop the channel and forget its credentials; its conversations stay readable."""
    channel.is_active = False
    channel.secrets_encrypted = None
    await session.flush()
    await webhook_outbox.channel_event(session, channel)
    return channel
