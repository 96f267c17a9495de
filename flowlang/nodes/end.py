"""The `end` node: say a last message (optional `content`) and end the run."""

from __future__ import annotations

from flowlang.node_base import NodeData, NodeType, RunContext, Template, no_handles
from models.messages import OutboundMessage


class EndData(NodeData):
    content: Template | None = None


async def run(ctx: RunContext, data: EndData) -> None:
    if data.content:
        await ctx.send(OutboundMessage(kind="text", text=ctx.render(data.content)))


END = NodeType(
    type="end",
    data_model=EndData,
    handles=no_handles,
    run=run,
    only_sends="end",
)
