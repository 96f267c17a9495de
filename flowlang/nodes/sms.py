"""The `sms` node: send a text message through the organization's Twilio account.

`to` (default: the contact's phone) and `body` are templates. A literal `to` that is not an
E.164 number (`+34600111222`) fails validation; one that is not a number once filled in sends
nothing and leaves by `error`. Any number works, so a bot can text its staff. Under the node id
the flow finds `{"sid": "SM...", "status": "queued", "error": null}`; the step records the same.
Twilio's rate limits and server errors are retried; other Twilio errors leave by `error`.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from flowlang.integration_steps import IntegrationData, call, failed_step, with_error
from flowlang.node_base import NodeType, RunContext, Template
from models.payloads.activity_names import SEND_SMS
from models.payloads.integrations import SmsRequest, SmsSent

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def _phone_number(text: str) -> str:
    """Spaces, dashes, dots and brackets dropped: people write numbers with them."""
    return re.sub(r"[\s().-]", "", text)


def _literal_number_valid(text: str) -> str:
    if "{{" not in text and not E164.match(_phone_number(text)):
        raise PydanticCustomError(
            "invalid_phone",
            "{number!r} is not a phone number in E.164 form (+34600111222)",
            {"number": text},
        )
    return text


class SmsData(IntegrationData):
    to: Annotated[Template, AfterValidator(_literal_number_valid)] = "{{contact.phone}}"
    body: Template = Field(min_length=1, max_length=1600)


async def run(ctx: RunContext, data: SmsData) -> str:
    to = _phone_number(ctx.render(data.to))
    if not E164.match(to):
        return await failed_step(ctx, data, f"{to!r} is not a phone number in E.164 form")
    request = SmsRequest(to=to, body=ctx.render(data.body))
    return await call(ctx, data, SEND_SMS, request, SmsSent, "the SMS was not sent")


SMS = NodeType(type="sms", data_model=SmsData, handles=with_error, run=run)
