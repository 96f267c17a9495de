"""Bad input gets a 4xx (or a GraphQL error with a code) and a clear reason, nothing is half
stored, and no message a provider sent is lost."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.bot_tables import Bot
from models.conversation_tables import Conversation
from models.flow_tables import Flow
from models.messages import MAX_TEXT_LENGTH
from models.settings import Settings
from tests import fake_meta
from tests.api_fixtures import CREATE_BOT
from tests.channel_chat import (
    APP_SECRET,
    TwilioUser,
    WhatsAppUser,
    make_twilio_bot,
    make_whatsapp_bot,
    stored_messages,
)
from tests.fake_twilio import FakeTwilio
from tests.graphql_client import sign_up
from tests.helpers import chain, make_web_bot, node, wait_for

ECHO = chain(node("echo", "message", content="ok"))
UNSTORABLE_TEXTS = ["nul\x00byte", "lone \ud800 surrogate"]
DEEP = "[" * 100_000 + "]" * 100_000
NOT_OBJECTS = ["null", '"x"', "5", DEEP, "{not json"]


async def count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as connection:
        return await connection.scalar(select(func.count()).select_from(table))


def ascii_json(value: Any) -> bytes:
    """JSON with every non-ASCII character escaped, as a client may send a lone surrogate."""
    return json.dumps(value, ensure_ascii=True).encode()


BY_VARIABLE = "mutation($text: String!) { createBot(input: {name: $text}) { id } }"
BY_NESTED_VARIABLE = "mutation($input: BotInput!) { createBot(input: $input) { id } }"
BY_LITERAL = 'mutation { createBot(input: {name: "Bot", description: "VALUE"}) { id } }'


@pytest.mark.parametrize(
    ("operation", "text"),
    [
        *((BY_VARIABLE, text) for text in UNSTORABLE_TEXTS),
        *((BY_NESTED_VARIABLE, text) for text in UNSTORABLE_TEXTS),
        (BY_LITERAL, "nul\x00byte"),  # a lone surrogate escape is already a syntax error
    ],
)
async def test_graphql_texts_that_cannot_be_stored_are_refused(
    api: httpx.AsyncClient, db_engine: AsyncEngine, operation: str, text: str
) -> None:
    owner, _ = await sign_up(api)
    variables = {"text": text} if "$text" in operation else {}
    if "$input" in operation:
        variables = {"input": {"name": "Bot", "description": text}}
    query = operation.replace("VALUE", json.dumps(text)[1:-1])  # spelled `\u0000` in GraphQL
    response = await api.post(
        "/graphql",
        content=ascii_json({"query": query, "variables": variables}),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {owner.token}"},
    )
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "NUL character or an unpaired surrogate" in error["message"]
    assert await count(db_engine, Bot) == 0


@pytest.mark.parametrize("body", NOT_OBJECTS)
async def test_graphql_bodies_that_are_not_json_objects_get_400(
    api: httpx.AsyncClient, body: str
) -> None:
    response = await api.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["detail"]


async def signed_whatsapp(api: httpx.AsyncClient, channel: str, body: bytes) -> httpx.Response:
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": fake_meta.signature(APP_SECRET, body),
    }
    return await api.post(f"/channels/whatsapp/{channel}/webhook", content=body, headers=headers)


@pytest.mark.parametrize(
    "body", [*NOT_OBJECTS, '{"object": "whatsapp_business_account"}', "TIMESTAMP"]
)
async def test_signed_whatsapp_payloads_that_are_not_webhooks_get_400(
    api: httpx.AsyncClient, db_engine: AsyncEngine, test_settings: Settings, body: str
) -> None:
    channel, phone = await make_whatsapp_bot(db_engine, test_settings, ECHO)
    if body == "TIMESTAMP":
        message = fake_meta.message("34600111222", "text", {"body": "hi"}, timestamp=1e20)
        body = json.dumps(fake_meta.webhook(phone, messages=[message]))
    response = await signed_whatsapp(api, channel, body.encode())
    assert response.status_code == 400
    assert "not a WhatsApp webhook payload" in response.json()["detail"]
    assert await stored_messages(db_engine, channel) == []


async def test_a_signed_whatsapp_body_over_the_limit_gets_413_not_a_retry(
    api: httpx.AsyncClient, db_engine: AsyncEngine, test_settings: Settings
) -> None:
    channel, phone = await make_whatsapp_bot(db_engine, test_settings, ECHO)
    text = "x" * (3 * 1024 * 1024)
    message = fake_meta.message("34600111222", "text", {"body": text})
    response = await signed_whatsapp(
        api, channel, json.dumps(fake_meta.webhook(phone, messages=[message])).encode()
    )
    assert response.status_code == 413
    assert await stored_messages(db_engine, channel) == []


async def test_provider_texts_are_kept_storable_and_cut_at_4096_characters(
    api: httpx.AsyncClient, meta: Any, db_engine: AsyncEngine, test_settings: Settings
) -> None:
    channel, phone = await make_whatsapp_bot(db_engine, test_settings, ECHO)
    ana = WhatsAppUser(api, meta, channel, phone, wa_id="34600111222")
    await ana.says("a\x00b" + "y" * 5000)

    async def stored() -> list[Any]:
        return [m for m in await stored_messages(db_engine, channel) if m.direction == "inbound"]

    [kept] = await wait_for(stored, what="the inbound message")
    assert kept.text.startswith("aby") and len(kept.text) == MAX_TEXT_LENGTH


async def test_a_signed_twilio_location_that_is_not_a_number_gets_400(
    api: httpx.AsyncClient, twilio: FakeTwilio, db_engine: AsyncEngine, test_settings: Settings
) -> None:
    channel, from_number = await make_twilio_bot(db_engine, test_settings, twilio, ECHO)
    phone = TwilioUser(api, twilio, test_settings, channel, from_number, "+34600111222")
    form = {
        "MessageSid": "SM" + "1" * 32,
        "From": phone.address,
        "To": from_number,
        "Latitude": "nan",
        "Longitude": "2.17",
        "NumMedia": "0",
    }
    response = await phone.post("webhook", form)
    assert response.status_code == 400 and "Latitude" in response.text
    assert await stored_messages(db_engine, channel) == []


@pytest.mark.parametrize("text", [*UNSTORABLE_TEXTS, "x" * (MAX_TEXT_LENGTH + 1)])
async def test_web_messages_that_cannot_be_stored_are_refused(
    api: httpx.AsyncClient, db_engine: AsyncEngine, text: str
) -> None:
    _bot, channel = await make_web_bot(db_engine, ECHO)
    response = await api.post(
        f"/channels/web/{channel}/messages",
        content=ascii_json({"contact_id": "visitor", "text": text}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert await count(db_engine, Conversation) == 0


def broken_zips() -> list[bytes]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", json.dumps({"flowCount": 1}))
        archive.writestr("flow.json", json.dumps({"version": "1.0.0", "flow": {"name": "F"}}))
    whole = buffer.getvalue()
    corrupted = whole.replace(b"flowCount", b"flowCOUNT", 1)  # no longer matches its CRC
    data_start = whole.index(b"flow.json") + len(b"flow.json")
    damaged = whole[:data_start] + b"\xff" * 8 + whole[data_start + 8 :]
    return [whole[: len(whole) // 2], corrupted, damaged]


@pytest.mark.parametrize("archive", broken_zips())
async def test_broken_zips_are_refused_on_import(
    api: httpx.AsyncClient, db_engine: AsyncEngine, archive: bytes
) -> None:
    owner, _ = await sign_up(api)
    bot = (await owner(CREATE_BOT, name="Shop"))["createBot"]["id"]
    response = await api.post(
        f"/api/bots/{bot}/flows/import",
        files={"file": ("flows.zip", archive, "application/zip")},
        headers={"Authorization": f"Bearer {owner.token}"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "BAD_USER_INPUT"
    assert await count(db_engine, Flow) == 0


async def test_a_huge_bot_name_is_a_validation_error(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    owner, _ = await sign_up(api)
    error = await owner.error(CREATE_BOT, name="n" * 1_000_000)
    assert error["code"] == "BAD_USER_INPUT" and "longer than 200 characters" in error["message"]
    assert await count(db_engine, Bot) == 0
