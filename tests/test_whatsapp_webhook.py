"""The WhatsApp Cloud webhook: handshake, signatures, every inbound type, and delivery statuses."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from channels.base import ChannelAccess, StatusUpdate
from channels.whatsapp_cloud.adapter import WhatsAppCloudChannel
from graphql_api.platform import Platform
from models.conversation_tables import Conversation, Message
from models.db import make_session_factory
from models.messages import InboundMessage
from models.secret_box import SecretBox
from models.settings import Settings
from services.conversations.delivery_statuses import record_sent, record_status
from services.conversations.inbound import store_inbound
from tests import fake_meta
from tests.channel_chat import (
    ACCESS_TOKEN,
    VERIFY_TOKEN,
    WhatsAppUser,
    conversation_started,
    make_whatsapp_bot,
    stored_contact,
    stored_messages,
)
from tests.fake_meta import FakeMeta
from tests.helpers import chain, node, wait_for

RECEIVED = chain(node("ack", "message", content="Recibido"))
ASK_NAME = chain(
    node("ask", "question", content="¿Nombre?", variable="name"),
    node("hi", "message", content="Hola {{name}}"),
)


@pytest.fixture
async def whatsapp(
    api: httpx.AsyncClient, meta: FakeMeta, db_engine: AsyncEngine, test_settings: Settings
) -> WhatsAppUser:
    channel_id, phone_number_id = await make_whatsapp_bot(db_engine, test_settings, RECEIVED)
    return WhatsAppUser(api, meta, channel_id, phone_number_id, wa_id="34600111222")


async def test_verification_handshake(api: httpx.AsyncClient, whatsapp: WhatsAppUser):
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": ""}
    good = await api.get(whatsapp.url, params={**query, "hub.verify_token": VERIFY_TOKEN})
    assert (good.status_code, good.text) == (200, "1158201444")

    wrong = await api.get(whatsapp.url, params={**query, "hub.verify_token": "guess"})
    assert wrong.status_code == 403
    assert "verify_token" in wrong.json()["detail"]
    unknown = await api.get(f"/channels/whatsapp/{uuid.uuid4()}/webhook", params=query)
    assert unknown.status_code == 404
    assert (await api.get("/channels/whatsapp/not-a-uuid/webhook")).status_code == 404


async def test_an_edited_or_disconnected_channel_is_seen_by_the_ingress_at_once(
    api: httpx.AsyncClient, whatsapp: WhatsAppUser, db_engine: AsyncEngine, test_settings: Settings
):
    def handshake(token: str) -> dict[str, str]:
        return {"hub.mode": "subscribe", "hub.challenge": "42", "hub.verify_token": token}

    async def answers(token: str, status: int) -> bool:
        return (await api.get(whatsapp.url, params=handshake(token))).status_code == status

    assert await answers(VERIFY_TOKEN, 200)  # the API process now remembers the channel
    assert await answers(VERIFY_TOKEN, 200)
    box = SecretBox(test_settings.resolved_secret_key())
    renewed = box.encrypt({"access_token": ACCESS_TOKEN, "verify_token": "renewed"})
    async with db_engine.begin() as connection:
        await connection.execute(
            text("UPDATE channels SET secrets_encrypted = :s WHERE id = :id"),
            {"s": renewed, "id": whatsapp.channel_id},
        )
    await wait_for(lambda: answers("renewed", 200), timeout=5, what="the edited channel")
    assert await answers(VERIFY_TOKEN, 403)
    async with db_engine.begin() as connection:
        await connection.execute(
            text("UPDATE channels SET is_active = false WHERE id = :id"),
            {"id": whatsapp.channel_id},
        )
    await wait_for(lambda: answers("renewed", 404), timeout=5, what="the disconnection")


async def test_the_api_listens_for_channel_changes_before_its_first_webhook(
    db_engine: AsyncEngine, test_settings: Settings
):
    platform = Platform(test_settings, test_settings.database_url or "")
    try:
        await platform.warm()  # what the app does as it starts

        async def ingress_listening() -> bool:
            async with db_engine.connect() as connection:
                listening = await connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                        "'ingress-channels' AND query = 'LISTEN bb_channels'"
                    )
                )
            return listening == 1

        await wait_for(ingress_listening, timeout=5, what="the ingress's LISTEN")
    finally:
        await platform.close()


async def test_only_signed_events_are_accepted(
    whatsapp: WhatsAppUser, db_engine: AsyncEngine, temporal_env: WorkflowEnvironment
):
    payload = fake_meta.webhook(
        whatsapp.phone_number_id,
        messages=[fake_meta.message(whatsapp.wa_id, "text", {"body": "hola"})],
    )
    for signature in (None, "sha256=" + "0" * 64, "md5=abc", fake_meta.signature("other", b"{}")):
        refused = await whatsapp.post(payload, signature=signature)
        assert refused.status_code == 401, signature
        assert refused.json() == {"detail": "invalid or missing X-Hub-Signature-256"}
    assert await stored_messages(db_engine, whatsapp.channel_id) == []
    assert not await conversation_started(
        temporal_env.client, db_engine, whatsapp.channel_id, whatsapp.wa_id
    )

    accepted = await whatsapp.post(payload)
    assert accepted.status_code == 200
    assert accepted.json() == {"messages": 1, "statuses": 0}
    assert [m["text"]["body"] for m in await whatsapp.wait_received(1)] == ["Recibido"]


async def test_events_of_the_apps_other_numbers_are_left_out(
    whatsapp: WhatsAppUser, db_engine: AsyncEngine
):
    other = fake_meta.webhook(
        "999000111", messages=[fake_meta.message(whatsapp.wa_id, "text", {"body": "hola"})]
    )
    response = await whatsapp.post(other)
    assert response.json() == {"messages": 0, "statuses": 0}
    assert await stored_messages(db_engine, whatsapp.channel_id) == []


async def test_a_signed_payload_that_is_not_a_webhook_is_refused(
    whatsapp: WhatsAppUser, db_engine: AsyncEngine
):
    value = {"metadata": {"phone_number_id": whatsapp.phone_number_id}, "messages": [{}]}
    response = await whatsapp.post({"entry": [{"changes": [{"value": value}]}]})
    assert response.status_code == 400
    assert "not a WhatsApp webhook payload" in response.json()["detail"]
    assert await stored_messages(db_engine, whatsapp.channel_id) == []


def every_inbound_type(ana: str, ben: str) -> list[dict[str, Any]]:
    media = {"mime_type": "image/jpeg", "sha256": "abc", "id": "media-img"}
    return [
        fake_meta.message(ana, "text", {"body": "hola"}),
        fake_meta.message(
            ana,
            "interactive",
            {"type": "button_reply", "button_reply": {"id": "yes", "title": "Sí"}},
        ),
        fake_meta.message(
            ana,
            "interactive",
            {
                "type": "list_reply",
                "list_reply": {"id": "row-2", "title": "Envíos", "description": "Plazos"},
            },
        ),
        fake_meta.message(ana, "button", {"payload": "STOP", "text": "Baja"}),
        fake_meta.message(ana, "image", {**media, "caption": "mi foto"}),
        fake_meta.message(
            ben,
            "audio",
            {"mime_type": "audio/ogg; codecs=opus", "id": "media-voice", "voice": True},
        ),
        fake_meta.message(ben, "video", {"mime_type": "video/mp4", "id": "media-video"}),
        fake_meta.message(
            ben,
            "document",
            {
                "mime_type": "application/pdf",
                "id": "media-doc",
                "filename": "factura.pdf",
                "caption": "factura",
            },
        ),
        fake_meta.message(
            ben, "sticker", {"mime_type": "image/webp", "id": "media-sticker", "animated": False}
        ),
        fake_meta.message(
            ben,
            "location",
            {
                "latitude": 40.4168,
                "longitude": -3.7038,
                "name": "Sol",
                "address": "Puerta del Sol, Madrid",
            },
        ),
        fake_meta.message(
            ben,
            "contacts",
            [
                {
                    "name": {"formatted_name": "Eva Ruiz", "first_name": "Eva"},
                    "phones": [{"phone": "+34 600 999 888", "type": "CELL"}],
                }
            ],
        ),
        fake_meta.message(ben, "reaction", {"message_id": "wamid.earlier", "emoji": "👍"}),
        fake_meta.message(ben, "unsupported", {}, errors=[{"code": 131051}]),
    ]


async def test_every_inbound_type_in_one_payload(
    whatsapp: WhatsAppUser, meta: FakeMeta, db_engine: AsyncEngine, test_settings: Settings
):
    ana, ben = whatsapp.wa_id, "447700900123"
    messages = every_inbound_type(ana, ben)
    payload = fake_meta.webhook(
        whatsapp.phone_number_id, messages=messages, names={ana: "Ana", ben: "Ben"}
    )
    response = await whatsapp.post(payload)
    assert response.json() == {"messages": len(messages), "statuses": 0}

    async def all_stored() -> list[Message] | None:
        rows = [
            m
            for m in await stored_messages(db_engine, whatsapp.channel_id)
            if m.direction == "inbound"
        ]
        return rows if len(rows) == len(messages) else None

    rows = {m.provider_message_id: m for m in await wait_for(all_stored, what="every message")}
    got = [rows[message["id"]] for message in messages]
    assert [(m.type, m.text) for m in got] == [
        ("text", "hola"),
        ("button", "yes"),
        ("list", "row-2"),
        ("button", "STOP"),
        ("media", "mi foto"),
        ("media", f"{meta.url}/v21.0/media-voice"),
        ("media", f"{meta.url}/v21.0/media-video"),
        ("media", "factura"),
        ("media", f"{meta.url}/v21.0/media-sticker"),
        ("location", "40.4168,-3.7038"),
        ("contact", "Eva Ruiz"),
        ("reaction", "👍"),
        ("unsupported", ""),
    ]
    content = [m.content for m in got]
    assert content[1]["text"] == "Sí" and content[2]["payload"] == "row-2"
    assert content[4]["media"] == {
        "kind": "image",
        "id": "media-img",
        "url": f"{meta.url}/v21.0/media-img",
        "caption": "mi foto",
        "filename": None,
        "mime_type": "image/jpeg",
    }
    assert [content[i]["media"]["kind"] for i in (5, 6, 7, 8)] == [
        "audio",
        "video",
        "document",
        "image",
    ]
    assert content[7]["media"]["filename"] == "factura.pdf"
    assert content[9]["location"]["address"] == "Puerta del Sol, Madrid"
    assert content[10]["contacts"] == [
        {"name": "Eva Ruiz", "phone": "+34 600 999 888", "email": None}
    ]
    assert content[11]["reply_to"] == "wamid.earlier"
    assert content[0]["contact_name"] == "Ana"
    assert (await stored_contact(db_engine, ana)).name == "Ana"
    assert (await stored_contact(db_engine, ben)).name == "Ben"
    assert sorted(meta.read) == sorted(message["id"] for message in messages)


async def test_inbound_media_can_be_fetched_through_the_graph_api(
    meta: FakeMeta, test_settings: Settings
):
    meta.media["media-img"] = (b"\xff\xd8jpeg bytes", "image/jpeg")
    channel = ChannelAccess(
        id="c",
        kind="whatsapp_cloud",
        config={"phone_number_id": "1"},
        secrets={"access_token": ACCESS_TOKEN},
    )
    graph = WhatsAppCloudChannel(test_settings).graph(channel)
    assert await graph.media("media-img") == (b"\xff\xd8jpeg bytes", "image/jpeg")


async def test_statuses_never_move_backwards(whatsapp: WhatsAppUser, db_engine: AsyncEngine):
    await whatsapp.says("hola")
    await whatsapp.says("otra vez")
    first, second = [m["id"] for m in await whatsapp.wait_received(2)]

    for state in ("read", "delivered", "sent"):
        await whatsapp.report(first, state)
    error = {
        "code": 131026,
        "title": "Message undeliverable",
        "error_data": {"details": "Message Undeliverable."},
    }
    await whatsapp.report(second, "delivered")
    await whatsapp.report(second, "failed", errors=[error])  # too late: it was delivered
    await whatsapp.says("y otra")
    third = (await whatsapp.wait_received(3))[2]["id"]
    await whatsapp.report(third, "failed", errors=[error])
    await whatsapp.report(third, "delivered")  # a failed message stays failed

    outbound = {
        m.provider_message_id: m
        for m in await stored_messages(db_engine, whatsapp.channel_id)
        if m.direction == "outbound"
    }
    assert outbound[first].status == "read"
    assert outbound[second].status == "delivered"
    assert (outbound[third].status, outbound[third].error) == (
        "failed",
        {"code": 131026, "message": "Message Undeliverable."},
    )


async def test_a_report_that_arrives_before_the_send_is_recorded_is_applied(
    whatsapp: WhatsAppUser, db_engine: AsyncEngine
):
    await whatsapp.says("hola")
    await whatsapp.wait_received(1)
    sessions = make_session_factory(db_engine)
    channel_id = uuid.UUID(whatsapp.channel_id)
    async with sessions.begin() as session:
        await record_status(session, channel_id, StatusUpdate("wamid.early", "delivered"))
    async with sessions.begin() as session:
        reply = next(
            m
            for m in await stored_messages(db_engine, whatsapp.channel_id)
            if m.direction == "outbound"
        )
        await record_sent(session, reply.id, channel_id, "wamid.early")
    statuses = [
        m.status
        for m in await stored_messages(db_engine, whatsapp.channel_id)
        if m.provider_message_id == "wamid.early"
    ]
    assert statuses == ["delivered"]


async def test_a_report_racing_the_send_s_result_is_applied_once_both_commit(
    whatsapp: WhatsAppUser, db_engine: AsyncEngine
):
    """A report whose transaction is open while the send stores its result: the send waits for
    the report's lock, then applies the report it could not have seen before."""
    await whatsapp.says("hola")
    await whatsapp.wait_received(1)
    sessions = make_session_factory(db_engine)
    channel_id = uuid.UUID(whatsapp.channel_id)
    messages = await stored_messages(db_engine, whatsapp.channel_id)
    reply = next(m for m in messages if m.direction == "outbound")
    async with sessions.begin() as report:
        await record_status(report, channel_id, StatusUpdate("wamid.racing", "read"))

        async def send_result() -> None:
            async with sessions.begin() as send:
                await record_sent(send, reply.id, channel_id, "wamid.racing")

        result = asyncio.create_task(send_result())
        await wait_for(lambda: waiting_for_a_lock(db_engine), what="the send to wait for the lock")
        assert not result.done()
    await asyncio.wait_for(result, timeout=10)
    statuses = [
        m.status
        for m in await stored_messages(db_engine, whatsapp.channel_id)
        if m.provider_message_id == "wamid.racing"
    ]
    assert statuses == ["read"]


async def waiting_for_a_lock(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        waiting = await conn.scalar(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        )
    return bool(waiting)


async def test_a_late_repeat_of_a_stored_message_does_not_answer_the_question(
    api: httpx.AsyncClient, meta: FakeMeta, db_engine: AsyncEngine, test_settings: Settings
):
    """Meta redelivers a message for days when it got no 200. One it dates an hour before the
    question, stored long ago (as by a conversation since closed, whose workflow remembered its
    id), is recognised by the store before the waiting run could take it as the answer."""
    channel_id, phone_number_id = await make_whatsapp_bot(db_engine, test_settings, ASK_NAME)
    user = WhatsAppUser(api, meta, channel_id, phone_number_id, wa_id="34600333444")
    await user.says("hola")
    await user.wait_received(1)
    an_hour_ago = int(time.time()) - 3600
    old = fake_meta.message(user.wa_id, "text", {"body": "Pepe"}, timestamp=str(an_hour_ago))
    async with make_session_factory(db_engine).begin() as session:
        conversation = await session.scalar(
            select(Conversation.id).where(Conversation.channel_id == uuid.UUID(channel_id))
        )
        earlier = InboundMessage(provider_message_id=old["id"], text="Pepe")
        await store_inbound(session, str(conversation), channel_id, earlier, "an earlier run")
    payload = fake_meta.webhook(phone_number_id, messages=[old], names={user.wa_id: "Ana"})
    assert (await user.post(payload)).status_code == 200
    await user.says("Ana")
    replies = await user.wait_received(2)
    assert [reply["text"]["body"] for reply in replies] == ["¿Nombre?", "Hola Ana"]
    inbound = [
        m.text for m in await stored_messages(db_engine, channel_id) if m.direction == "inbound"
    ]
    assert inbound == ["hola", "Pepe", "Ana"]


async def test_a_repeat_leaves_the_conversation_s_last_message_time_alone(
    whatsapp: WhatsAppUser, db_engine: AsyncEngine
):
    """The inbox sorts by the last message: a new message moves the conversation up, a repeat
    of a stored one (another delivery of the same provider id) does not."""
    await whatsapp.says("hola")
    await whatsapp.wait_received(1)
    sessions = make_session_factory(db_engine)

    async def store(provider_id: str, delivery: str) -> tuple[bool | None, object]:
        async with sessions.begin() as session:
            conversation = await session.scalar(
                select(Conversation).where(
                    Conversation.channel_id == uuid.UUID(whatsapp.channel_id)
                )
            )
            assert conversation is not None
            message = InboundMessage(provider_message_id=provider_id, text="otra vez")
            stored = await store_inbound(
                session, str(conversation.id), whatsapp.channel_id, message, delivery
            )
            await session.refresh(conversation)
            return stored, conversation.last_message_at

    first, touched = await store("wamid.twice", "a first delivery")
    repeat, after_repeat = await store("wamid.twice", "a second delivery")
    new, after_new = await store("wamid.next", "a third delivery")
    assert (first, repeat, new) == (True, False, True)
    assert after_repeat == touched
    assert after_new > touched
