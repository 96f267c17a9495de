"""The `message` node: send a text (its `content`, with `{{ }}` templates filled in)."""

from __future__ import annotations

from pydantic import Field

from flowlang.node_base import (
    DEFAULT,
    NodeData,
    NodeType,
    RunContext,
    Template,
)
from models.messages import OutboundMessage


class MessageData(NodeData):
    content: Template = Field(min_length=1)


async def run(ctx: RunContext, data: MessageData) -> str:
    await ctx.send(OutboundMessage(kind="text", text=ctx.render(data.content)))
    return DEFAULT


MESSAGE = NodeType(
    type="message",
    data_model=MessageData,
    run=run,
    only_sends=DEFAULT,
)
