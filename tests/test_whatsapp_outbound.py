"""Sending on WhatsApp Cloud: every message type, option fitting, errors, and the 24-hour window."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from channels.base import ChannelAccess, PermanentSendError, RetryableSendError
from channels.whatsapp_cloud.adapter import WhatsAppCloudChannel
from models.conversation_tables import FlowRun
from models.db import make_session_factory
from models.messages import (
    Button,
    Contact,
    Location,
    Media,
    OutboundMessage,
    TemplateMessage,
)
from models.settings import Settings
from tests.channel_chat import (
    ACCESS_TOKEN,
    WhatsAppUser,
    make_whatsapp_bot,
    stored_messages,
    unique_number,
)
from tests.fake_meta import REVOKED_TOKEN, UNREACHABLE, FakeMeta
from tests.helpers import chain, node, wait_for


def options(count: int) -> list[dict[str, str]]:
    return [{"id": f"o{n}", "label": f"Opción {n}"} for n in range(1, count + 1)]


@pytest.fixture
def channel(meta: FakeMeta) -> ChannelAccess:
    return ChannelAccess(
        id="c",
        kind="whatsapp_cloud",
        config={"phone_number_id": "1065"},
        secrets={"access_token": ACCESS_TOKEN},
    )


def interactive(body: dict[str, Any]) -> dict[str, Any]:
    return body["interactive"]


async def test_every_outbound_type(meta: FakeMeta, channel: ChannelAccess, test_settings: Settings):
    adapter = WhatsAppCloudChannel(test_settings)
    buttons = [Button(id=f"b{n}", title=f"Botón {n}") for n in range(1, 13)]
    sections = [
        {"title": "Pedidos", "rows": [{"id": "r1", "title": "Estado", "description": "d"}]},
        {"title": "Cuenta", "rows": [{"id": "r2", "title": "Datos"}]},
    ]
    messages = [
        OutboundMessage(text="Hola"),
        OutboundMessage(kind="buttons", text="¿Seguimos?", buttons=buttons[:3]),
        OutboundMessage(kind="buttons", text="Elige", buttons=buttons[:4]),
        OutboundMessage(kind="buttons", text="Elige", buttons=buttons),
        OutboundMessage(kind="list", text="Menú", sections=sections, button_label="Abrir"),
        OutboundMessage(
            kind="media", media=Media(kind="image", url="https://x/a.jpg", caption="foto")
        ),
        OutboundMessage(
            kind="media",
            media=Media(
                kind="document", url="https://x/f.pdf", caption="factura", filename="f.pdf"
            ),
        ),
        OutboundMessage(
            kind="media", media=Media(kind="audio", url="https://x/a.ogg", caption="ignored")
        ),
        OutboundMessage(kind="media", media=Media(kind="video", url="https://x/v.mp4")),
        OutboundMessage(
            kind="location", location=Location(latitude=40.4, longitude=-3.7, name="Sol")
        ),
        OutboundMessage(
            kind="contact",
            contact=Contact(name="Eva Ruiz", phone="+34600999888", email="eva@example.com"),
        ),
        OutboundMessage(
            kind="template",
            template=TemplateMessage(name="order_update", language="es", parameters=["Ana", "#42"]),
        ),
    ]
    ids = [await adapter.send(channel, "34600111222", message) for message in messages]
    sent = meta.messages_to("34600111222")
    assert [body["id"] for body in sent] == ids
    assert all(body["messaging_product"] == "whatsapp" for body in sent)
    assert sent[0]["text"] == {"body": "Hola", "preview_url": False}

    three = interactive(sent[1])
    assert three["type"] == "button" and three["body"] == {"text": "¿Seguimos?"}
    assert [b["reply"] for b in three["action"]["buttons"]] == [
        {"id": "b1", "title": "Botón 1"},
        {"id": "b2", "title": "Botón 2"},
        {"id": "b3", "title": "Botón 3"},
    ]
    four = interactive(sent[2])
    assert four["type"] == "list"
    assert [row["id"] for row in four["action"]["sections"][0]["rows"]] == ["b1", "b2", "b3", "b4"]
    assert sent[3]["type"] == "text"
    assert sent[3]["text"]["body"].splitlines()[:2] == ["Elige", "1. Botón 1"]
    assert sent[3]["text"]["body"].splitlines()[-1] == "12. Botón 12"
    menu = interactive(sent[4])
    assert menu["action"]["button"] == "Abrir"
    assert [s["title"] for s in menu["action"]["sections"]] == ["Pedidos", "Cuenta"]
    assert menu["action"]["sections"][0]["rows"][0] == {
        "id": "r1",
        "title": "Estado",
        "description": "d",
    }

    assert sent[5]["image"] == {"link": "https://x/a.jpg", "caption": "foto"}
    assert sent[6]["document"] == {
        "link": "https://x/f.pdf",
        "caption": "factura",
        "filename": "f.pdf",
    }
    assert sent[7]["audio"] == {"link": "https://x/a.ogg"}
    assert sent[8]["video"] == {"link": "https://x/v.mp4"}
    assert sent[9]["location"] == {"latitude": 40.4, "longitude": -3.7, "name": "Sol"}
    card = sent[10]["contacts"][0]
    assert card["name"]["formatted_name"] == "Eva Ruiz"
    assert card["phones"] == [{"phone": "+34600999888", "type": "CELL"}]
    assert sent[11]["template"] == {
        "name": "order_update",
        "language": {"code": "es"},
        "components": [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "#42"}],
            }
        ],
    }


async def test_errors_are_classified(
    meta: FakeMeta, channel: ChannelAccess, test_settings: Settings
):
    adapter = WhatsAppCloudChannel(test_settings)
    hello = OutboundMessage(text="Hola")
    for code in (130429, 131056):
        meta.fail_next(code)
        with pytest.raises(RetryableSendError) as busy:
            await adapter.send(channel, "34600111222", hello)
        assert busy.value.code == code
    with pytest.raises(PermanentSendError) as unreachable:
        await adapter.send(channel, UNREACHABLE, hello)
    assert unreachable.value.code == 131030
    revoked = ChannelAccess(
        id="c",
        kind="whatsapp_cloud",
        config=channel.config,
        secrets={"access_token": REVOKED_TOKEN},
    )
    with pytest.raises(PermanentSendError) as expired:
        await adapter.send(revoked, "34600111222", hello)
    assert expired.value.code == 190 and "access token" in str(expired.value)
    meta.fail_next(131047)
    with pytest.raises(PermanentSendError, match="24-hour"):
        await adapter.send(channel, "34600111222", hello)


async def runs(engine: AsyncEngine) -> list[FlowRun]:
    async with make_session_factory(engine)() as session:
        return list((await session.scalars(select(FlowRun))).all())


async def test_a_long_menu_is_numbered_text_and_the_number_answers(
    api: httpx.AsyncClient, meta: FakeMeta, db_engine: AsyncEngine, test_settings: Settings
):
    flow = chain(
        node("menu", "button", content="Elige", options=options(12), variable="pick"),
        node("done", "message", content="Elegiste {{pick}}"),
    )
    channel_id, phone = await make_whatsapp_bot(db_engine, test_settings, flow)
    ana = WhatsAppUser(api, meta, channel_id, phone, wa_id="34600111222")
    await ana.says("hola")
    menu = (await ana.wait_received(1))[0]
    assert menu["type"] == "text" and "11. Opción 11" in menu["text"]["body"]
    await ana.says("11")
    assert (await ana.wait_received(2))[1]["text"]["body"] == "Elegiste Opción 11"


async def test_a_rate_limit_is_retried_until_the_message_goes_out(
    api: httpx.AsyncClient, meta: FakeMeta, db_engine: AsyncEngine, test_settings: Settings
):
    channel_id, phone = await make_whatsapp_bot(
        db_engine, test_settings, chain(node("hi", "message", content="Hola"))
    )
    ana = WhatsAppUser(api, meta, channel_id, phone, wa_id="34600111222")
    meta.fail_next(130429)
    await ana.says("hola")
    assert [m["text"]["body"] for m in await ana.wait_received(1)] == ["Hola"]

    async def sent() -> list[Any] | None:
        rows = [
            m
            for m in await stored_messages(db_engine, channel_id)
            if m.direction == "outbound" and m.status == "sent"
        ]
        return rows or None

    (reply,) = await wait_for(sent, what="the reply marked sent")
    assert reply.error is None and reply.provider_message_id == ana.received()[0]["id"]


@pytest.mark.parametrize(
    ("token", "wa_id", "code"),
    [(REVOKED_TOKEN, "34600111222", 190), (ACCESS_TOKEN, UNREACHABLE, 131030)],
)
async def test_a_permanent_error_is_recorded_and_not_retried(
    api: httpx.AsyncClient,
    meta: FakeMeta,
    db_engine: AsyncEngine,
    test_settings: Settings,
    token: str,
    wa_id: str,
    code: int,
):
    flow = chain(node("hi", "message", content="Hola"))
    channel_id, phone = await make_whatsapp_bot(db_engine, test_settings, flow, access_token=token)
    started = time.monotonic()
    await WhatsAppUser(api, meta, channel_id, phone, wa_id=wa_id).says("hola")

    async def failed_run() -> list[FlowRun] | None:
        done = [run for run in await runs(db_engine) if run.status == "failed"]
        return done or None

    (run,) = await wait_for(failed_run, what="the run to fail")
    assert time.monotonic() - started < 5, "a permanent error must not wait for retries"
    assert "could not be sent" in run.error["message"]
    (reply,) = [
        m for m in await stored_messages(db_engine, channel_id) if m.direction == "outbound"
    ]
    assert reply.status == "failed" and reply.error["code"] == code
    assert meta.messages_to(wa_id) == []


async def outbound(engine: AsyncEngine, channel_id: str, status: str) -> list[Any]:
    return [
        m
        for m in await stored_messages(engine, channel_id)
        if m.direction == "outbound" and m.status == status
    ]


async def test_outside_the_24_hour_window_only_templates_go_out(
    api: httpx.AsyncClient, meta: FakeMeta, db_engine: AsyncEngine, test_settings: Settings
):
    flow = chain(
        node("hi", "message", content="Hola de nuevo"),
        node("more", "message", content="¿Seguimos?"),
    )
    yesterday = str(int(time.time()) - 25 * 3600)
    closed, phone = await make_whatsapp_bot(db_engine, test_settings, flow)
    ana = WhatsAppUser(api, meta, closed, phone, wa_id="34600111222")
    await ana.send("text", {"body": "hola"}, timestamp=yesterday)  # delivered a day late

    (refused,) = await wait_for(lambda: outbound(db_engine, closed, "failed"), what="a refusal")
    assert refused.error["code"] == "window_closed"
    assert "24 hours" in refused.error["message"]
    assert meta.messages_to(ana.wa_id) == []

    template = {"name": "hello_again", "language": "es"}
    reopened, phone = await make_whatsapp_bot(
        db_engine, test_settings, flow, reengagement_template=template
    )
    ben = WhatsAppUser(api, meta, reopened, phone, wa_id="34600333444")
    await ben.send("text", {"body": "hola"}, timestamp=yesterday)
    (sent,) = await ben.wait_received(1)
    assert sent["type"] == "template"
    assert sent["template"] == {"name": "hello_again", "language": {"code": "es"}}
    (second,) = await wait_for(lambda: outbound(db_engine, reopened, "failed"), what="a refusal")
    assert second.text == "¿Seguimos?" and "answers it" in second.error["message"]
    (stored,) = await outbound(db_engine, reopened, "sent")
    assert stored.type == "template" and stored.content["replaces"]["text"] == "Hola de nuevo"
    assert len(ben.received()) == 1, "the template goes out once until the contact answers"

    await ben.says("¡hola!")  # a fresh message opens the window again
    assert [m["text"]["body"] for m in (await ben.wait_received(3))[1:]] == [
        "Hola de nuevo",
        "¿Seguimos?",
    ]


async def test_sends_from_one_number_are_paced(
    api: httpx.AsyncClient, meta: FakeMeta, db_engine: AsyncEngine, test_settings: Settings
):
    flow = chain(*(node(f"m{n}", "message", content=f"Mensaje {n}") for n in range(3)))
    channel_id, phone = await make_whatsapp_bot(
        db_engine, test_settings, flow, messages_per_second=4
    )
    users = [WhatsAppUser(api, meta, channel_id, phone, wa_id=unique_number()) for _ in range(3)]
    for user in users:
        await user.says("hola")

    async def all_sent() -> list[float] | None:
        times = sorted(body["at"] for user in users for body in user.received())
        return times if len(times) == 9 else None

    times = await wait_for(all_sent, what="9 messages")
    # 4 per second: 9 sends span at least 8 × 250 ms (less a little network jitter).
    assert times[-1] - times[0] >= 1.85, times
