"""A retried send (same idempotency key) stores one message and reaches the provider once."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.send_message import MessageSender
from models.conversation_tables import Conversation, Message
from models.db import make_session_factory
from models.engine import SendRequest
from models.messages import OutboundMessage
from models.secret_box import SecretBox
from models.settings import Settings
from tests.channel_chat import WhatsAppUser, make_whatsapp_bot
from tests.fake_meta import FakeMeta
from tests.helpers import chain, node


async def test_a_retried_send_reaches_whatsapp_once(
    api: httpx.AsyncClient, meta: FakeMeta, db_engine: AsyncEngine, test_settings: Settings
):
    flow = chain(node("hi", "message", content="Hola"))
    channel_id, phone = await make_whatsapp_bot(db_engine, test_settings, flow)
    ana = WhatsAppUser(api, meta, channel_id, phone, wa_id="34600999888")
    await ana.says("hola")  # opens the 24-hour window and the conversation
    await ana.wait_received(1)
    sessions = make_session_factory(db_engine)
    async with sessions() as session:
        conversation = await session.scalar(select(Conversation.id))
    request = SendRequest(
        conversation_id=str(conversation), channel_id=channel_id, channel_kind="whatsapp_cloud",
        contact_external_id=ana.wa_id, idempotency_key="retried/1.0",
        message=OutboundMessage(kind="text", text="¿Sigues ahí?"),
    )  # fmt: skip
    sender = MessageSender(sessions, SecretBox(test_settings.resolved_secret_key()), test_settings)

    first = await sender.send_message(request)
    again = await sender.send_message(request)  # the activity retried after a lost answer

    assert first == again
    assert [m["text"]["body"] for m in await ana.wait_received(2)] == ["Hola", "¿Sigues ahí?"]
    assert len(meta.messages_to(ana.wa_id)) == 2  # not three: the retry sent nothing
    async with sessions() as session:
        stored = (
            await session.scalars(select(Message).where(Message.idempotency_key == "retried/1.0"))
        ).all()
    assert [(m.status, m.text) for m in stored] == [("sent", "¿Sigues ahí?")]
