"""Twilio's webhooks: `X-Twilio-Signature` over the public URL, inbound fields, status callbacks."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from models.conversation_tables import Message
from models.settings import Settings
from tests.channel_chat import (
    AUTH_TOKEN,
    TwilioUser,
    conversation_started,
    make_twilio_bot,
    stored_contact,
    stored_messages,
)
from tests.fake_twilio import FakeTwilio, twilio_signature
from tests.helpers import chain, node, wait_for

RECEIVED = chain(node("ack", "message", content="Recibido"))


@pytest.fixture
async def ana(
    api: httpx.AsyncClient, twilio: FakeTwilio, db_engine: AsyncEngine, test_settings: Settings
) -> TwilioUser:
    channel_id, sender = await make_twilio_bot(db_engine, test_settings, twilio, RECEIVED)
    return TwilioUser(api, twilio, test_settings, channel_id, sender, "+34600111222")


async def test_only_requests_signed_for_the_public_url_are_accepted(
    ana: TwilioUser, db_engine: AsyncEngine, temporal_env: WorkflowEnvironment
):
    form = {
        "MessageSid": "SM" + "1" * 32,
        "From": ana.address,
        "To": ana.from_number,
        "Body": "hola",
        "NumMedia": "0",
    }
    elsewhere = twilio_signature(
        AUTH_TOKEN, f"http://testserver/channels/twilio/{ana.channel_id}/webhook", form
    )
    for signature in (None, "bm90IGEgc2lnbmF0dXJl", elsewhere):
        refused = await ana.post("webhook", form, signature=signature)
        assert refused.status_code == 401, signature
        assert refused.json() == {"detail": "invalid or missing X-Twilio-Signature"}
    assert await stored_messages(db_engine, ana.channel_id) == []
    assert not await conversation_started(
        temporal_env.client, db_engine, ana.channel_id, "+34600111222"
    )

    accepted = await ana.post("webhook", form)
    assert accepted.status_code == 200
    assert accepted.headers["content-type"].startswith("text/xml")
    assert "<Response></Response>" in accepted.text
    assert [m["Body"] for m in await ana.wait_received(1)] == ["Recibido"]


async def test_a_form_without_a_message_sid_is_refused(ana: TwilioUser):
    response = await ana.post("webhook", {"From": ana.address, "Body": "hola"})
    assert response.status_code == 400
    assert "MessageSid" in response.json()["detail"]


async def test_every_inbound_field(ana: TwilioUser, db_engine: AsyncEngine):
    text = await ana.send(Body="hola", ProfileName="Ana López")
    media = await ana.send(
        Body="mis papeles",
        NumMedia="2",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2",
        MediaContentType1="application/pdf",
    )
    button = await ana.send(Body="Sí", ButtonText="Sí", ButtonPayload="confirm-yes")
    place = await ana.send(
        Latitude="40.4168", Longitude="-3.7038", Address="Puerta del Sol", Label="Sol"
    )

    async def all_stored() -> dict[str, Message] | None:
        rows = {
            m.provider_message_id: m
            for m in await stored_messages(db_engine, ana.channel_id)
            if m.direction == "inbound"
        }
        return rows if len(rows) == 5 else None

    rows = await wait_for(all_stored, what="5 inbound messages")
    assert (rows[text].type, rows[text].text) == ("text", "hola")
    assert rows[text].content["contact_name"] == "Ana López"
    assert (await stored_contact(db_engine, "+34600111222")).name == "Ana López"
    first, second = rows[media].content["media"], rows[f"{media}/1"].content["media"]
    assert (first["kind"], first["mime_type"], first["caption"]) == (
        "image",
        "image/jpeg",
        "mis papeles",
    )
    assert first["url"].endswith("/Media/ME1")
    assert (second["kind"], second["mime_type"]) == ("document", "application/pdf")
    assert (rows[button].type, rows[button].content["payload"], rows[button].text) == (
        "button",
        "confirm-yes",
        "confirm-yes",
    )
    location = {
        "latitude": 40.4168,
        "longitude": -3.7038,
        "name": "Sol",
        "address": "Puerta del Sol",
    }
    assert rows[place].content["location"] == location


async def test_status_callbacks_never_move_backwards(ana: TwilioUser, db_engine: AsyncEngine):
    await ana.says("hola")
    await ana.says("otra")
    first, second = [m["Sid"] for m in await ana.wait_received(2)]
    assert all(m["StatusCallback"] == ana.urls["status_callback"] for m in ana.received())

    for state in ("read", "queued", "delivered", "sent"):
        await ana.report(first, state)
    await ana.report(second, "undelivered", ErrorCode="63024", ErrorMessage="Invalid recipient")
    await ana.report(second, "delivered")
    refused = await ana.post(
        "status_callback", {"MessageSid": first, "MessageStatus": "failed"}, signature="forged"
    )
    assert refused.status_code == 401

    outbound = {
        m.provider_message_id: m
        for m in await stored_messages(db_engine, ana.channel_id)
        if m.direction == "outbound"
    }
    assert outbound[first].status == "read"
    assert (outbound[second].status, outbound[second].error) == (
        "failed",
        {"code": 63024, "message": "Invalid recipient"},
    )
