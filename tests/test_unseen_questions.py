"""A contact can only answer a question they have seen: what they write while the flow is busy
(in a delay, sending) is stored and shown, but does not answer the question asked after it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from models.settings import Settings
from tests.channel_chat import WhatsAppUser, make_whatsapp_bot, stored_messages
from tests.fake_meta import FakeMeta
from tests.helpers import WebChat, chain, make_web_bot, node

QUESTION = "¿Cuál es tu color favorito?"


def delayed_question() -> dict[str, Any]:
    return chain(
        node("wait", "message", content="Un momento…"),
        node("pause", "delay", delay=2),
        node("ask", "question", content=QUESTION, variable="color"),
        node("done", "message", content="Tu color favorito es {{color}}."),
    )


@pytest.mark.record_history
async def test_messages_sent_during_a_delay_do_not_answer_the_next_question_on_the_web(
    api: httpx.AsyncClient, db_engine: AsyncEngine
):
    _bot, channel = await make_web_bot(db_engine, delayed_question())
    chat = WebChat(api, channel, "impatient")
    await chat.say("espera")
    assert await chat.wait_replies(1) == ["Un momento…"]
    await chat.say("ping")  # during the delay: the question has not been asked yet
    await chat.say("¿hola?")
    assert await chat.wait_replies(2) == ["Un momento…", QUESTION]
    await chat.say("azul")
    replies = await chat.wait_replies(3)
    assert replies == ["Un momento…", QUESTION, "Tu color favorito es azul."]
    inbound = [m["text"] for m in await chat.messages() if m["direction"] == "inbound"]
    assert inbound == ["espera", "ping", "¿hola?", "azul"]  # kept, and visible


async def test_messages_sent_during_a_delay_do_not_answer_the_next_question_on_whatsapp(
    api: httpx.AsyncClient, meta: FakeMeta, db_engine: AsyncEngine, test_settings: Settings
):
    channel_id, phone = await make_whatsapp_bot(db_engine, test_settings, delayed_question())
    ana = WhatsAppUser(api, meta, channel_id, phone, wa_id="34600123321")

    def texts(received: list[dict[str, Any]]) -> list[str]:
        return [m["text"]["body"] for m in received]

    await ana.says("espera")
    assert texts(await ana.wait_received(1)) == ["Un momento…"]
    await ana.says("ping")
    assert texts(await ana.wait_received(2)) == ["Un momento…", QUESTION]
    await ana.says("verde")
    received = texts(await ana.wait_received(3))
    assert received == ["Un momento…", QUESTION, "Tu color favorito es verde."]
    stored = [m.text for m in await stored_messages(db_engine, channel_id)]
    assert "ping" in stored
