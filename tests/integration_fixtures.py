"""Helpers for integration-node tests: an organization's credentials set through the real code,
and the stored steps of a run."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.bot_tables import Bot
from models.conversation_tables import FlowRunStep
from models.db import make_session_factory
from models.secret_box import SecretBox
from services.integrations.credentials import set_integration
from tests.helpers import WebChat, node, wait_for

SECRET_KEY = "test-secret-key"  # the tests' settings.secret_key


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    return {
        "id": f"{source}-{target}-{handle}",
        "source": source,
        "target": target,
        "sourceHandle": handle,
    }


def asking_flow(
    question: tuple[str, str], step: dict[str, Any], done: str, failed: str
) -> dict[str, Any]:
    """Ask `question` (text, variable), run `step`, say `done` or `failed: <why>`, then ask
    "¿Algo más?" and thank for the answer: the conversation goes on either way."""
    step_id = step["id"]
    nodes = [
        node("ask", "question", content=question[0], variable=question[1]),
        step,
        node("done", "message", content=done),
        node("failed", "message", content=f"{failed}: {{{{{step_id}.error}}}}"),
        node("more", "question", content="¿Algo más?", variable="more"),
        node("bye", "message", content="Gracias: {{more}}"),
    ]
    edges = [
        edge("ask", step_id),
        edge(step_id, "done"),
        edge(step_id, "failed", "error"),
        edge("done", "more"),
        edge("failed", "more"),
        edge("more", "bye"),
    ]
    return {"name": f"{step_id} flow", "nodes": nodes, "edges": edges}


async def answer_first(api: httpx.AsyncClient, channel: str, contact: str, answer: str) -> WebChat:
    """A contact who starts the flow and answers its first question with `answer`."""
    chat = WebChat(api, channel, contact)
    await chat.say("hola")
    await chat.wait_replies(1)
    await chat.say(answer)
    return chat


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


async def step_of(engine: AsyncEngine, node_id: str) -> FlowRunStep:
    """The node's stored step (the latest), once the run has written it: steps are written
    in batches, before the run next waits."""

    async def stored() -> FlowRunStep | None:
        async with make_session_factory(engine)() as session:
            steps = await session.scalars(
                select(FlowRunStep).where(FlowRunStep.node_id == node_id).order_by(FlowRunStep.id)
            )
            return (steps.all() or [None])[-1]

    return await wait_for(stored, what=f"the step of {node_id}")
