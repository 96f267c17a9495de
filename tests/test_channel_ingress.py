"""What every provider channel shares: one stored message and one reply per provider message
id (also for concurrent deliveries), and the seed customer-service flow end to end."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from flowlang.templates import default_templates
from graphql_api.app import create_app
from graphql_api.platform import Platform
from models.conversation_tables import FlowRun
from models.db import make_session_factory
from models.settings import Settings
from tests import fake_meta
from tests.channel_chat import (
    TwilioUser,
    WhatsAppUser,
    make_twilio_bot,
    make_whatsapp_bot,
    stored_messages,
)
from tests.fake_meta import FakeMeta
from tests.fake_twilio import FakeTwilio
from tests.helpers import chain, node, wait_for

ECHO = chain(node("echo", "message", content="Recibido: {{last_reply}}"))
CUSTOMER_SERVICE = next(t for t in default_templates() if t.slug == "customer-service-basic")


async def inbound_count(engine: AsyncEngine, channel_id: str) -> int:
    return len([m for m in await stored_messages(engine, channel_id) if m.direction == "inbound"])


async def test_whatsapp_duplicates_and_concurrent_deliveries_count_once(
    api: httpx.AsyncClient, meta: FakeMeta, db_engine: AsyncEngine, test_settings: Settings
):
    channel_id, phone = await make_whatsapp_bot(db_engine, test_settings, ECHO)
    ana = WhatsAppUser(api, meta, channel_id, phone, wa_id="34600111222")
    hello = fake_meta.webhook(
        phone, messages=[fake_meta.message(ana.wa_id, "text", {"body": "hola"})]
    )
    first = await ana.post(hello)
    together = await asyncio.gather(*(ana.post(hello) for _ in range(4)))
    assert [r.status_code for r in (first, *together)] == [200] * 5
    await ana.says("fin")

    replies = await ana.wait_received(2)
    assert [m["text"]["body"] for m in replies] == ["Recibido: hola", "Recibido: fin"]
    assert await inbound_count(db_engine, channel_id) == 2


async def test_twilio_duplicates_and_concurrent_deliveries_count_once(
    api: httpx.AsyncClient, twilio: FakeTwilio, db_engine: AsyncEngine, test_settings: Settings
):
    channel_id, sender = await make_twilio_bot(db_engine, test_settings, twilio, ECHO)
    ana = TwilioUser(api, twilio, test_settings, channel_id, sender, "+34600111222")
    sid = await ana.says("hola")
    await asyncio.gather(*(ana.send(MessageSid=sid, Body="hola") for _ in range(4)))
    await ana.says("fin")

    replies = await ana.wait_received(2)
    assert [m["Body"] for m in replies] == ["Recibido: hola", "Recibido: fin"]
    assert await inbound_count(db_engine, channel_id) == 2


async def finished_run(engine: AsyncEngine) -> FlowRun:
    async def completed() -> FlowRun | None:
        async with make_session_factory(engine)() as session:
            return await session.scalar(select(FlowRun).where(FlowRun.status == "completed"))

    return await wait_for(completed, what="the flow run to complete")


async def test_customer_service_template_over_whatsapp(
    api: httpx.AsyncClient, meta: FakeMeta, db_engine: AsyncEngine, test_settings: Settings
):
    definition = CUSTOMER_SERVICE.definition.model_dump(mode="json", by_alias=True)
    channel_id, phone = await make_whatsapp_bot(db_engine, test_settings, definition)
    ana = WhatsAppUser(api, meta, channel_id, phone, wa_id="34600111222")
    await ana.says("hola")
    welcome, menu = await ana.wait_received(2)
    assert welcome["text"]["body"].startswith("¡Hola! 👋 Bienvenido")
    assert menu["type"] == "interactive" and menu["interactive"]["type"] == "list"
    rows = menu["interactive"]["action"]["sections"][0]["rows"]
    assert [row["id"] for row in rows] == ["1", "2", "3", "4"]
    assert rows[2]["title"] == "💬 Hablar con agente"

    choice = {"id": "3", "title": "💬 Hablar con agente"}
    await ana.send("interactive", {"type": "list_reply", "list_reply": choice})
    run = await finished_run(db_engine)
    assert run.variables["menu"] == "💬 Hablar con agente"
    assert sorted(meta.read) == sorted(
        m.provider_message_id
        for m in await stored_messages(db_engine, channel_id)
        if m.direction == "inbound"
    )


async def test_customer_service_template_over_twilio_whatsapp(
    api: httpx.AsyncClient, twilio: FakeTwilio, db_engine: AsyncEngine, test_settings: Settings
):
    definition = CUSTOMER_SERVICE.definition.model_dump(mode="json", by_alias=True)
    channel_id, sender = await make_twilio_bot(db_engine, test_settings, twilio, definition)
    ana = TwilioUser(api, twilio, test_settings, channel_id, sender, "+34600111222")
    await ana.says("hola")
    welcome, menu = await ana.wait_received(2)
    assert welcome["Body"].startswith("¡Hola! 👋 Bienvenido")
    assert menu["Body"].splitlines() == [
        "Por favor, selecciona una opción:",
        "1. 📦 Estado de pedido",
        "2. ❓ Preguntas frecuentes",
        "3. 💬 Hablar con agente",
        "4. 📝 Dejar comentario",
    ]
    assert (menu["From"], menu["To"]) == (sender, "whatsapp:+34600111222")

    await ana.says("3")
    run = await finished_run(db_engine)
    assert run.variables["menu"] == "💬 Hablar con agente"


async def test_without_temporal_the_provider_is_told_to_retry(
    meta: FakeMeta, db_engine: AsyncEngine, test_settings: Settings, clean_db
):
    channel_id, phone = await make_whatsapp_bot(db_engine, test_settings, ECHO)
    offline = test_settings.model_copy(update={"temporal_address": "127.0.0.1:9"})
    app = create_app(offline, offline.database_url or "")
    app.state.platform = Platform(offline, offline.database_url or "")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await WhatsAppUser(client, meta, channel_id, phone, "34600111222").post(
            fake_meta.webhook(
                phone, messages=[fake_meta.message("34600111222", "text", {"body": "hola"})]
            )
        )
    await app.state.platform.close()
    assert response.status_code == 503
    assert "conversation engine is unavailable" in response.json()["detail"]
    assert meta.read == []
