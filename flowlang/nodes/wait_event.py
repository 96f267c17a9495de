"""The `waitEvent` node: wait for an event from outside the conversation (a payment
confirmation, an approval), sent with `POST /api/triggers/events`; its data goes into `variable`.

Leaves by `default` when the event comes, by `timeout` when it has not come within `timeout`
seconds (no `timeout` edge: the run ends); without `timeout` it waits up to `MAX_WAIT`. An event
sent before the run reaches the node is kept and taken as soon as it does.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from flowlang.node_base import (
    DEFAULT,
    TIMEOUT,
    NodeData,
    NodeType,
    RunContext,
    VariableName,
    always,
)

MAX_WAIT = timedelta(days=30)


class WaitEventData(NodeData):
    event: str = Field(min_length=1, max_length=100)
    timeout: float | None = Field(default=None, gt=0, le=MAX_WAIT.total_seconds())
    variable: VariableName = "event"


async def run(ctx: RunContext, data: WaitEventData) -> str:
    limit = timedelta(seconds=data.timeout) if data.timeout else MAX_WAIT
    received = await ctx.wait_for_event(data.event, limit)
    if received is None:
        return TIMEOUT
    ctx.variables[data.variable] = received
    return DEFAULT


WAIT_EVENT = NodeType(
    type="waitEvent",
    data_model=WaitEventData,
    handles=lambda _: [DEFAULT, TIMEOUT],
    waits=always,
    run=run,
)
