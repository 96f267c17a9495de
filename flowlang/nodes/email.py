"""The `email` node: send an email through the organization's SMTP server.

Every field is a template. `to` defaults to the contact's email; `to`, `cc`, `bcc` and `replyTo`
take comma-separated lists. A literal invalid address fails validation; one that is invalid once
filled in (or no recipient at all) sends nothing and leaves by `error`. Under the node id the
flow finds `{"message_id": "<...@domain>", "refused": [], "error": null}`; the step records the
same. Temporary SMTP failures are retried `retryAttempts` times with backoff; a permanent one
(5xx, no SMTP configured) leaves by `error` at once.
"""

from __future__ import annotations

from pydantic import Field

from flowlang.integration_steps import (
    AddressList,
    IntegrationData,
    call,
    failed_step,
    rendered_addresses,
    with_error,
)
from flowlang.node_base import NodeFailed, NodeType, RunContext, Template, render_optional
from models.payloads.activity_names import SEND_EMAIL
from models.payloads.integrations import EmailRequest, EmailSent


class EmailData(IntegrationData):
    to: AddressList = "{{contact.email}}"
    cc: AddressList | None = None
    bcc: AddressList | None = None
    reply_to: AddressList | None = None
    subject: Template = Field(min_length=1)
    body: Template = Field(min_length=1, description="The plain-text body.")
    html: Template | None = Field(default=None, description="An optional HTML alternative.")


async def run(ctx: RunContext, data: EmailData) -> str:
    try:
        to = rendered_addresses(ctx, data.to)
        cc, bcc = rendered_addresses(ctx, data.cc), rendered_addresses(ctx, data.bcc)
        reply_to = rendered_addresses(ctx, data.reply_to)
        if not to:
            raise NodeFailed("the email has no recipient once its variables are filled in")
    except NodeFailed as invalid:
        return await failed_step(ctx, data, str(invalid))
    request = EmailRequest(
        to=to,
        cc=cc,
        bcc=bcc,
        reply_to=reply_to,
        subject=ctx.render(data.subject),
        text=ctx.render(data.body),
        html=render_optional(ctx, data.html),
    )
    return await call(ctx, data, SEND_EMAIL, request, EmailSent, "the email was not sent")


EMAIL = NodeType(type="email", data_model=EmailData, handles=with_error, run=run)
