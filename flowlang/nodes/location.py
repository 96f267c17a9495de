"""The `location` node: send a map pin (`latitude`, `longitude`, `name`, `address`)."""

from __future__ import annotations

from pydantic import Field

from flowlang.node_base import (
    DEFAULT,
    NodeData,
    NodeType,
    RunContext,
    Template,
    render_optional,
)
from models.messages import Location, OutboundMessage


class LocationData(NodeData):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: Template | None = None
    address: Template | None = None


async def run(ctx: RunContext, data: LocationData) -> str:
    location = Location(
        latitude=data.latitude,
        longitude=data.longitude,
        name=render_optional(ctx, data.name),
        address=render_optional(ctx, data.address),
    )
    await ctx.send(OutboundMessage(kind="location", location=location))
    return DEFAULT


LOCATION = NodeType(
    type="location",
    data_model=LocationData,
    run=run,
)
