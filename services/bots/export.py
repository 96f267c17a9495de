"""Export a bot as a bots-as-code file: what `apply` would need to leave it unchanged.

Flows are written inline from their drafts. Secrets are written as the names of the
environment variables they were applied from (`channels.secret_env`); a channel whose secrets
were set another way gets conventional names such as `WHATSAPP_ACCESS_TOKEN`. Secret values are
never read.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.config import SECRET_MODELS
from models.bot_tables import Bot, Channel
from models.flow_tables import Flow
from models.tenancy_tables import Organization
from services.bots.file import ENTRY_FIELDS, normal_config
from services.bots.sync import stored_definition


class BotNotFound(LookupError):
    """No bot, or several, answer to the name or id given."""


async def find_bot(session: AsyncSession, ref: str) -> Bot:
    """The bot with id `ref`, or the only bot named `ref`."""
    try:
        query = select(Bot).where(Bot.id == uuid.UUID(ref))
    except ValueError:
        query = select(Bot).where(Bot.name == ref)
    bots = (await session.scalars(query)).all()
    if not bots:
        raise BotNotFound(f"no bot {ref!r}")
    if len(bots) > 1:
        raise BotNotFound(f"{len(bots)} bots are named {ref!r}; give the bot's id instead")
    return bots[0]


async def export_bot(session: AsyncSession, bot: Bot) -> dict[str, Any]:
    """The bot's file content, ready for `dump_bot_file`."""
    organization = await session.get_one(Organization, bot.organization_id)
    channels = await session.scalars(
        select(Channel).where(Channel.bot_id == bot.id).order_by(Channel.created_at, Channel.name)
    )
    flows = (
        await session.scalars(
            select(Flow).where(Flow.bot_id == bot.id).order_by(Flow.created_at, Flow.name)
        )
    ).all()
    default = next((flow.name for flow in flows if flow.id == bot.default_flow_id), None)
    bot_entry: dict[str, Any] = {"name": bot.name}
    bot_entry |= {"description": bot.description} if bot.description else {}
    bot_entry |= {"settings": bot.settings} if bot.settings else {}
    bot_entry |= {"sensitive_data": True} if bot.sensitive_data else {}
    bot_entry |= {"default_flow": default} if default else {}
    return {
        "organization": organization.slug,
        "bot": bot_entry,
        "channels": {channel.name: _channel_entry(channel) for channel in channels},
        "flows": {flow.name: _flow_entry(flow) for flow in flows},
    }


def _channel_entry(channel: Channel) -> dict[str, Any]:
    try:
        config = normal_config(channel.kind, channel.config)
    except ValidationError:
        config = channel.config  # written as stored; apply will say what is wrong with it
    entry: dict[str, Any] = {"kind": channel.kind}
    entry |= {"config": config} if config else {}
    names = {
        key: channel.secret_env.get(key) or conventional_env_name(channel.name, key)
        for key in SECRET_MODELS[channel.kind].model_fields
    }
    return entry | ({"secrets": names} if names else {})


def conventional_env_name(channel_name: str, secret: str) -> str:
    """`WHATSAPP_ACCESS_TOKEN` for the secret `access_token` of the channel `whatsapp`."""
    prefix = re.sub(r"[^A-Za-z0-9]+", "_", channel_name).strip("_").upper() or "CHANNEL"
    if prefix[0].isdigit():
        prefix = f"CHANNEL_{prefix}"
    return f"{prefix}_{secret.upper()}"


def _flow_entry(flow: Flow) -> dict[str, Any]:
    canonical = stored_definition(
        flow.definition, flow.name, flow.trigger, flow.priority, description=flow.description
    )
    if canonical is None:  # a draft that no longer parses: written as stored, apply reports it
        definition, description = flow.definition, flow.description
        trigger, priority = flow.trigger, flow.priority
    else:
        definition, description, priority = (
            canonical,
            canonical["description"],
            canonical["priority"],
        )
        trigger = {"type": canonical["trigger"], "keywords": canonical["keywords"]}
        trigger |= {"pattern": canonical["pattern"]} if canonical["pattern"] else {}
    entry: dict[str, Any] = {"description": description} if description else {}
    return entry | {
        "trigger": trigger,
        "priority": priority,
        "definition": {
            "nodes": definition.get("nodes", []),
            "edges": definition.get("edges", []),
            **{key: value for key, value in definition.items() if key not in ENTRY_FIELDS},
        },
    }
