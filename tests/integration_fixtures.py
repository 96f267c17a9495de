"""Helpers for integration-node tests: an organization's credentials set through the real code,
and the stored steps of a run."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.conversation_tables import FlowRunStep
from models.db import make_session_factory
from models.integrations import set_integration
from models.secret_box import SecretBox
from models.tables import Bot

SECRET_KEY = "test-secret-key"  # the tests' settings.secret_key


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    return {
        "id": f"{source}-{target}-{handle}",
        "source": source,
        "target": target,
        "sourceHandle": handle,
    }


async def configure(
    engine: AsyncEngine, bot_id: str, kind: str, config: dict[str, Any], secrets: dict[str, Any]
) -> None:
    """Set the bot's organization's `kind` integration, as the setIntegration mutation does."""
    async with make_session_factory(engine).begin() as session:
        bot = await session.get(Bot, uuid.UUID(bot_id))
        assert bot is not None
        await set_integration(
            session, SecretBox(SECRET_KEY), bot.organization_id, kind, config, secrets
        )


async def step_of(engine: AsyncEngine, node_id: str) -> FlowRunStep | None:
    """The stored step of the node (the latest one)."""
    async with make_session_factory(engine)() as session:
        steps = await session.scalars(
            select(FlowRunStep).where(FlowRunStep.node_id == node_id).order_by(FlowRunStep.id)
        )
        return (steps.all() or [None])[-1]
