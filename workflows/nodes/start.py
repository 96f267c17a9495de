"""The `start` node: an explicit entry point that does nothing but lead on."""

from __future__ import annotations

from workflows.nodes.base import (
    DEFAULT,
    NodeData,
    NodeType,
    RunContext,
    never,
    no_handles,
    only_default,
)


class StartData(NodeData):
    pass


async def run(ctx: RunContext, data: StartData) -> str:
    return DEFAULT


START = NodeType(
    type="start",
    data_model=StartData,
    handles=only_default,
    required_handles=no_handles,
    waits=never,
    run=run,
)
