"""The `transfer` node: hand the conversation to a person (`transferTo`, `transferType`).

It says `transferMessage` (if any), then waits until an agent releases the conversation; the
bot is silent meanwhile. Released with "resume" it goes on along the default edge; with "end"
the run ends. `onRelease` is what the node asks for; the agent's release decides.
"""

from __future__ import annotations

from typing import Literal

from flowlang.node_base import (
    DEFAULT,
    HandOffRequest,
    NodeData,
    NodeType,
    RunContext,
    Template,
    always,
    render_optional,
)
from models.messages import OutboundMessage


class TransferData(NodeData):
    transfer_to: Template | None = None
    transfer_type: Literal["agent", "bot", "department"] = "agent"
    transfer_message: Template | None = None
    on_release: Literal["resume", "end"] = "resume"


async def run(ctx: RunContext, data: TransferData) -> str | None:
    message = render_optional(ctx, data.transfer_message)
    if message:
        await ctx.send(OutboundMessage(kind="text", text=message))
    request = HandOffRequest(
        transfer_to=render_optional(ctx, data.transfer_to),
        transfer_type=data.transfer_type,
        message=message,
        on_release=data.on_release,
    )
    return DEFAULT if await ctx.hand_off(request) == "resume" else None


TRANSFER = NodeType(
    type="transfer",
    data_model=TransferData,
    waits=always,
    run=run,
)
