"""Sending through the official `twilio` client: every message type, errors, the WhatsApp window."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from channels.base import ChannelAccess, PermanentSendError, RetryableSendError
from channels.config import webhook_urls
from channels.twilio.adapter import TwilioChannel
from models.conversation_tables import Conversation, Message
from models.db import make_session_factory
from models.messages import (
    Button,
    Contact,
    ListRow,
    ListSection,
    Location,
    Media,
    OutboundMessage,
    TemplateMessage,
)
from models.settings import Settings
from tests.channel_chat import AUTH_TOKEN, TwilioUser, make_twilio_bot, stored_messages
from tests.fake_twilio import FakeTwilio
from tests.helpers import chain, node, wait_for


def twilio_channel(twilio: FakeTwilio, from_number: str, token: str = AUTH_TOKEN) -> ChannelAccess:
    sid = "AC" + uuid.uuid4().hex
    twilio.accounts[sid] = AUTH_TOKEN
    return ChannelAccess(
        id=str(uuid.uuid4()),
        kind="twilio",
        config={"account_sid": sid, "from_number": from_number},
        secrets={"auth_token": token},
    )


async def test_every_outbound_type_on_whatsapp(twilio: FakeTwilio, test_settings: Settings):
    channel = twilio_channel(twilio, "whatsapp:+15550001111")
    adapter = TwilioChannel(test_settings)
    messages = [
        OutboundMessage(text="Hola"),
        OutboundMessage(
            kind="buttons",
            text="¿Seguimos?",
            buttons=[Button(id="y", title="Sí"), Button(id="n", title="No")],
        ),
        OutboundMessage(
            kind="list",
            text="Menú",
            sections=[
                ListSection(
                    title="Pedidos",
                    rows=[ListRow(id="r1", title="Estado", description="de tu pedido")],
                )
            ],
        ),
        OutboundMessage(
            kind="media", media=Media(kind="image", url="https://x/a.jpg", caption="foto")
        ),
        OutboundMessage(
            kind="location", location=Location(latitude=40.4, longitude=-3.7, name="Sol")
        ),
        OutboundMessage(kind="contact", contact=Contact(name="Eva Ruiz", phone="+34600999888")),
        OutboundMessage(
            kind="template",
            template=TemplateMessage(name="HX" + "a" * 32, parameters=["Ana", "#42"]),
        ),
    ]
    sids = [await adapter.send(channel, "+34600111222", message) for message in messages]
    sent = twilio.messages_to("whatsapp:+34600111222")
    assert [fields["Sid"] for fields in sent] == sids
    assert {fields["From"] for fields in sent} == {"whatsapp:+15550001111"}
    callback = webhook_urls(test_settings.resolved_public_url(), "twilio", channel.id)
    assert {fields["StatusCallback"] for fields in sent} == {callback["status_callback"]}
    assert sent[0]["Body"] == "Hola"
    assert sent[1]["Body"] == "¿Seguimos?\n1. Sí\n2. No"
    assert sent[2]["Body"] == "Menú\nPedidos\n1. Estado — de tu pedido"
    assert (sent[3]["MediaUrl"], sent[3]["Body"]) == ("https://x/a.jpg", "foto")
    assert sent[4]["PersistentAction"] == "geo:40.4,-3.7|Sol"
    assert sent[5]["Body"] == "Eva Ruiz\n+34600999888"
    assert sent[6]["ContentSid"] == "HX" + "a" * 32
    assert json.loads(sent[6]["ContentVariables"]) == {"1": "Ana", "2": "#42"}

    with pytest.raises(PermanentSendError, match="Content SID"):
        await adapter.send(
            channel,
            "+34600111222",
            OutboundMessage(kind="template", template=TemplateMessage(name="hello_again")),
        )


async def test_sms_gets_plain_text(twilio: FakeTwilio, test_settings: Settings):
    channel = twilio_channel(twilio, "+15550002222")
    adapter = TwilioChannel(test_settings)
    place = OutboundMessage(
        kind="location", location=Location(latitude=40.4, longitude=-3.7, name="Sol")
    )
    template = OutboundMessage(
        kind="template", template=TemplateMessage(name="hello", parameters=["Ana"])
    )
    for message in (place, template):
        await adapter.send(channel, "+34600111222", message)
    sent = twilio.messages_to("+34600111222")
    assert [fields["From"] for fields in sent] == ["+15550002222"] * 2
    assert sent[0]["Body"] == "Sol\nhttps://maps.google.com/?q=40.4,-3.7"
    assert "PersistentAction" not in sent[0]
    assert sent[1]["Body"] == "hello Ana"


async def test_errors_are_classified(twilio: FakeTwilio, test_settings: Settings):
    adapter = TwilioChannel(test_settings)
    channel = twilio_channel(twilio, "whatsapp:+15550001111")
    hello = OutboundMessage(text="Hola")
    twilio.fail_next(20429)
    with pytest.raises(RetryableSendError) as busy:
        await adapter.send(channel, "+34600111222", hello)
    assert busy.value.code == 20429
    with pytest.raises(PermanentSendError) as bad_number:
        await adapter.send(channel, "0034-600", hello)
    assert bad_number.value.code == 21211
    with pytest.raises(PermanentSendError) as wrong_token:
        await adapter.send(twilio_channel(twilio, "+15550002222", token="old"), "+3460011", hello)
    assert wrong_token.value.code == 20003
    twilio.fail_next(63016)
    with pytest.raises(PermanentSendError, match="24-hour"):
        await adapter.send(channel, "+34600111222", hello)
    assert twilio.sent == []


async def test_a_rate_limit_is_retried_until_the_message_goes_out(
    api: httpx.AsyncClient, twilio: FakeTwilio, db_engine: AsyncEngine, test_settings: Settings
):
    flow = chain(node("hi", "message", content="Hola"))
    channel_id, sender = await make_twilio_bot(db_engine, test_settings, twilio, flow)
    ana = TwilioUser(api, twilio, test_settings, channel_id, sender, "+34600111222")
    twilio.fail_next(20429)
    await ana.says("hola")
    (sent,) = await ana.wait_received(1)

    async def marked_sent() -> list[Message] | None:
        rows = [
            m
            for m in await stored_messages(db_engine, channel_id)
            if m.direction == "outbound" and m.status == "sent"
        ]
        return rows or None

    (reply,) = await wait_for(marked_sent, what="the reply marked sent")
    assert (reply.provider_message_id, reply.error) == (sent["Sid"], None)


async def backdate_inbound(engine: AsyncEngine, channel_id: str, by: timedelta) -> None:
    """As if the contact had last written `by` earlier."""
    async with make_session_factory(engine).begin() as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.channel_id == uuid.UUID(channel_id))
            .values(last_inbound_at=Conversation.last_inbound_at - by)
        )


async def test_the_24_hour_window_applies_to_whatsapp_not_sms(
    api: httpx.AsyncClient, twilio: FakeTwilio, db_engine: AsyncEngine, test_settings: Settings
):
    flow = chain(
        node("hi", "message", content="Hola"),
        node("wait", "delay", delay=2),
        node("later", "message", content="¿Sigues ahí?"),
    )
    users: dict[str, TwilioUser] = {}
    for kind, whatsapp in (("whatsapp", True), ("sms", False)):
        channel_id, sender = await make_twilio_bot(
            db_engine, test_settings, twilio, flow, whatsapp=whatsapp
        )
        users[kind] = TwilioUser(api, twilio, test_settings, channel_id, sender, "+34600111222")
        await users[kind].says("hola")
    for user in users.values():
        await user.wait_received(1)
        await backdate_inbound(db_engine, user.channel_id, timedelta(hours=25))

    assert [m["Body"] for m in await users["sms"].wait_received(2)] == ["Hola", "¿Sigues ahí?"]

    async def refused() -> list[Any] | None:
        rows = [
            m
            for m in await stored_messages(db_engine, users["whatsapp"].channel_id)
            if m.status == "failed"
        ]
        return rows or None

    (late,) = await wait_for(refused, what="the late WhatsApp message to be refused")
    assert (late.text, late.error["code"]) == ("¿Sigues ahí?", "window_closed")
    assert [m["Body"] for m in users["whatsapp"].received()] == ["Hola"]
