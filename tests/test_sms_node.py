"""The `sms` node end to end: web chat → Temporal → the org's Twilio account (fake Twilio API)."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from flowlang.nodes import get_node_type
from tests.fake_run_context import FakeRunContext
from tests.fake_twilio import FakeTwilio, twilio_signature
from tests.helpers import make_web_bot, node
from tests.integration_fixtures import answer_first, asking_flow, configure, step_of

ACCOUNT = "AC" + "5" * 32
TOKEN = "sms-auth-token"


async def sms_bot(db_engine: AsyncEngine, twilio: FakeTwilio) -> str:
    """Asks the contact for a number, texts it, then texts the staff about it."""
    text = node(
        "text",
        "sms",
        to="{{phone}}",
        body="Tu código es 4321, {{contact.external_id}}",
        retryAttempts=2,
    )
    flow = asking_flow(("¿Tu móvil?", "phone"), text, "Te enviamos un SMS.", "Sin SMS")
    bot, channel = await make_web_bot(db_engine, flow)
    twilio.accounts[ACCOUNT] = TOKEN
    await configure(
        db_engine,
        bot,
        "twilio_sms",
        {"account_sid": ACCOUNT, "from_number": "+15550001111"},
        {"auth_token": TOKEN},
    )
    return channel


async def test_the_sms_is_sent_and_the_conversation_goes_on(
    api: httpx.AsyncClient, db_engine: AsyncEngine, twilio: FakeTwilio
) -> None:
    chat = await answer_first(api, await sms_bot(db_engine, twilio), "sms-ok", "+34 600 111 222")
    assert (await chat.wait_replies(3))[1:] == ["Te enviamos un SMS.", "¿Algo más?"]
    [sent] = twilio.messages_to("+34600111222")
    assert (sent["From"], sent["Body"]) == ("+15550001111", "Tu código es 4321, sms-ok")
    step = await step_of(db_engine, "text")
    assert step.output == {"sid": sent["Sid"], "status": "queued"}

    report = {"MessageSid": sent["Sid"], "MessageStatus": "delivered", "To": "+34600111222"}
    callback = sent["StatusCallback"]
    path = urlsplit(callback).path
    forged = {"X-Twilio-Signature": twilio_signature("not-the-token", callback, report)}
    assert (await api.post(path, data=report, headers=forged)).status_code == 401
    signed = {"X-Twilio-Signature": twilio_signature(TOKEN, callback, report)}
    assert (await api.post(path, data=report, headers=signed)).status_code == 204
    step = await step_of(db_engine, "text")
    assert step.output == {"sid": sent["Sid"], "status": "delivered"}
    await chat.say("no")
    assert (await chat.wait_replies(4))[-1] == "Gracias: no"


async def test_a_rate_limit_is_retried(
    api: httpx.AsyncClient, db_engine: AsyncEngine, twilio: FakeTwilio
) -> None:
    twilio.fail_next(20429)
    chat = await answer_first(api, await sms_bot(db_engine, twilio), "sms-busy", "+34600111333")
    assert (await chat.wait_replies(3))[1] == "Te enviamos un SMS."
    assert len(twilio.messages_to("+34600111333")) == 1 and twilio.failures == []


async def test_a_refused_number_takes_the_error_edge_at_once(
    api: httpx.AsyncClient, db_engine: AsyncEngine, twilio: FakeTwilio
) -> None:
    twilio.fail_next(21211, 20429)
    chat = await answer_first(api, await sms_bot(db_engine, twilio), "sms-bad", "+34600111444")
    assert (await chat.wait_replies(3))[1] == (
        "Sin SMS: the SMS was not sent: Twilio error 21211: Unable to create record: "
        "Invalid 'To' Phone Number"
    )
    assert twilio.failures == [20429]  # not retried
    await chat.say("nada")
    assert (await chat.wait_replies(4))[-1] == "Gracias: nada"


async def test_an_answer_that_is_no_number_is_not_texted() -> None:
    ctx = FakeRunContext(variables={"phone": "mañana"})
    assert await ctx.run_node("sms", {"to": "{{phone}}", "body": "hola"}, "text") == "error"
    assert ctx.variables["text"] == {"error": "'mañana' is not a phone number in E.164 form"}
    assert ctx.integration_calls == []


def test_literal_numbers_are_checked() -> None:
    sms = get_node_type("sms")
    assert sms.parse({"to": "+1 (555) 000-1111", "body": "x"}).to == "+1 (555) 000-1111"
    assert sms.handles(sms.parse({"body": "x"})) == ["default", "error"]
    for bad in ({"to": "555", "body": "x"}, {"body": ""}, {"to": "+34600111222"}):
        with pytest.raises(ValidationError):
            sms.parse(bad)
