"""The `start` node: an explicit entry point that does nothing but lead on."""

from __future__ import annotations

from flowlang.node_base import (
    DEFAULT,
    NodeData,
    NodeType,
    RunContext,
)


class StartData(NodeData):
    pass


async def run(ctx: RunContext, data: StartData) -> str:
    return DEFAULT


START = NodeType(
    type="start",
    data_model=StartData,
    run=run,
)
