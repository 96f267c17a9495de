"""The `contact` node: send a contact card (`contactName`, `contactPhone`, `contactEmail`)."""

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
from models.messages import Contact, OutboundMessage


class ContactData(NodeData):
    contact_name: Template = Field(min_length=1)
    contact_phone: Template | None = None
    contact_email: Template | None = None


async def run(ctx: RunContext, data: ContactData) -> str:
    contact = Contact(
        name=ctx.render(data.contact_name),
        phone=render_optional(ctx, data.contact_phone),
        email=render_optional(ctx, data.contact_email),
    )
    await ctx.send(OutboundMessage(kind="contact", contact=contact))
    return DEFAULT


CONTACT = NodeType(
    type="contact",
    data_model=ContactData,
    run=run,
)
