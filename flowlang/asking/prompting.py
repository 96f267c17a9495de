"""Asking and waiting: send a prompt, wait for the reply, reprompt on a bad answer.

Shared by every node that waits for the contact (question, button, list, quickReply,
carousel, form). Each reply is kept in `variables["last_reply"]`; an accepted answer is stored
under the node id and, when set, under the node's `variable`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field

from flowlang.asking.answers import InvalidAnswer
from flowlang.node_base import (
    INVALID,
    TIMEOUT,
    NodeData,
    RunContext,
    Template,
    VariableName,
    render_optional,
)
from models.messages import InboundMessage, OutboundMessage

LAST_REPLY = "last_reply"
MAX_WAIT = timedelta(days=365)


class PromptSettings(NodeData):
    """Fields shared by the nodes that wait for an answer."""

    variable: VariableName | None = Field(default=None, description="Where to store the answer.")
    max_attempts: int = Field(default=3, ge=1, le=10, description="Answers accepted in all.")
    retry_message: Template | None = Field(default=None, description="Said before reprompting.")
    timeout: float | None = Field(
        default=None,
        gt=0,
        le=MAX_WAIT.total_seconds(),
        description="Seconds to wait for each answer; then the node leaves by `timeout`.",
    )


@dataclass(frozen=True)
class Answer:
    """How asking ended: `answered` (with its value), `invalid` or `timeout`."""

    outcome: Literal["answered", "invalid", "timeout"]
    value: Any = None


async def ask(
    ctx: RunContext,
    message: OutboundMessage,
    interpret: Callable[[InboundMessage], Any],
    settings: PromptSettings,
) -> Answer:
    """Send `message` and wait; `interpret` turns a reply into a value or raises InvalidAnswer."""
    timeout = timedelta(seconds=settings.timeout) if settings.timeout else None
    await ctx.send(message)
    for attempt in range(1, settings.max_attempts + 1):
        reply = await ctx.wait_for_reply(timeout)
        if reply is None:
            return Answer(TIMEOUT)
        ctx.variables[LAST_REPLY] = reply.answer_text()
        try:
            return Answer("answered", interpret(reply))
        except InvalidAnswer as problem:
            if attempt < settings.max_attempts:
                hint = render_optional(ctx, settings.retry_message) or str(problem)
                text = f"{hint}\n\n{message.text}" if message.text else hint
                await ctx.send(message.model_copy(update={"text": text}))
    return Answer(INVALID)


def store_answer(ctx: RunContext, variable: str | None, value: Any) -> None:
    """Keep an accepted answer under the node id and the node's variable."""
    ctx.variables[ctx.node_id] = value
    if variable:
        ctx.variables[variable] = value
