"""The demo bot `botbuilder up` creates on its first run, so a newcomer can chat at once."""

from __future__ import annotations

from sqlalchemy import select

from flowlang.templates import default_templates
from models.bot_tables import Bot, Channel
from models.db import make_engine, make_session_factory
from models.tenancy_tables import Organization
from services.bots.publishing import (
    add_channel,
    create_bot,
    create_flow,
    create_organization,
    publish_flow,
)

DEMO_SLUG = "demo"
DEMO_BOT = "demo"


async def ensure_demo_bot(database_url: str) -> str:
    """Create the demo organization, bot, web channel and published flow once; return the bot."""
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine).begin() as session:
            existing = await session.scalar(
                select(Bot).join(Organization).where(Organization.slug == DEMO_SLUG)
            )
            if existing is not None:
                return existing.name
            organization = await create_organization(session, "Demo", DEMO_SLUG)
            bot = await create_bot(
                session,
                organization.id,
                DEMO_BOT,
                description="Customer service demo from the seed template",
            )
            await add_channel(session, bot.id, "web", "Web chat")
            template = next(t for t in default_templates() if t.category == "customer-service")
            definition = template.definition.model_dump(mode="json", by_alias=True)
            flow = await create_flow(
                session,
                bot.id,
                definition,
                name=template.name,
                trigger={"type": "default", "keywords": [], "pattern": None},
            )
            await publish_flow(session, flow, "demo")
            bot.default_flow_id = flow.id
            return bot.name
    finally:
        await engine.dispose()


async def find_web_channel(database_url: str, bot_ref: str) -> Channel | None:
    """The web channel of the bot named or identified by `bot_ref` (first match by name)."""
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as session:
            query = select(Channel).join(Bot).where(Channel.kind == "web")
            if _is_uuid(bot_ref):
                query = query.where(Bot.id == bot_ref)
            else:
                query = query.where(Bot.name == bot_ref)
            return await session.scalar(query.order_by(Bot.created_at).limit(1))
    finally:
        await engine.dispose()


def _is_uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
