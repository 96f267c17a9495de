"""A retried send (same idempotency key) stores one message and reaches the provider once;
a retried run start leaves the run as it is."""

from __future__ import annotations

import asyncio
import threading
import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.send_message import MessageSender
from models.conversation_tables import Conversation, FlowRun, Message
from models.db import make_session_factory
from models.messages import OutboundMessage
from models.payloads.engine import RunStart, SendRequest
from models.secret_box import SecretBox
from models.settings import Settings
from services.conversations.flow_runs import store_run_start
from tests.channel_chat import WhatsAppUser, make_whatsapp_bot
from tests.fake_meta import FakeMeta
from tests.helpers import chain, node, wait_for


async def whatsapp_send(
    api: httpx.AsyncClient, meta: FakeMeta, db_engine: AsyncEngine, settings: Settings
) -> tuple[WhatsAppUser, SendRequest, MessageSender]:
    """A contact who wrote (window open), a send to them, and the activity that sends it."""
    flow = chain(node("hi", "message", content="Hola"))
    channel_id, phone = await make_whatsapp_bot(db_engine, settings, flow)
    ana = WhatsAppUser(api, meta, channel_id, phone, wa_id="34600999888")
    await ana.says("hola")  # opens the 24-hour window and the conversation
    await ana.wait_received(1)
    sessions = make_session_factory(db_engine)
    async with sessions() as session:
        conversation = await session.scalar(select(Conversation.id))
    request = SendRequest(
        conversation_id=str(conversation),
        channel_id=channel_id,
        channel_kind="whatsapp_cloud",
        contact_external_id=ana.wa_id,
        idempotency_key="retried/1.0",
        message=OutboundMessage(kind="text", text="¿Sigues ahí?"),
    )
    return (
        ana,
        request,
        MessageSender(sessions, SecretBox(settings.resolved_secret_key()), settings),
    )


async def stored_sends(db_engine: AsyncEngine) -> list[tuple[str, str | None]]:
    async with make_session_factory(db_engine)() as session:
        stored = (
            await session.scalars(select(Message).where(Message.idempotency_key == "retried/1.0"))
        ).all()
    return [(m.status, m.text) for m in stored]


async def test_a_retried_send_reaches_whatsapp_once(
    api: httpx.AsyncClient, meta: FakeMeta, db_engine: AsyncEngine, test_settings: Settings
):
    ana, request, sender = await whatsapp_send(api, meta, db_engine, test_settings)

    first = await sender.send_message(request)
    again = await sender.send_message(request)  # the activity retried after a lost answer

    assert first == again
    assert [m["text"]["body"] for m in await ana.wait_received(2)] == ["Hola", "¿Sigues ahí?"]
    assert len(meta.messages_to(ana.wa_id)) == 2  # not three: the retry sent nothing
    assert await stored_sends(db_engine) == [("sent", "¿Sigues ahí?")]


async def test_only_an_attempt_that_dies_inside_the_provider_call_sends_twice(
    api: httpx.AsyncClient,
    meta: FakeMeta,
    db_engine: AsyncEngine,
    test_settings: Settings,
    caplog: pytest.LogCaptureFixture,
):
    ana, request, sender = await whatsapp_send(api, meta, db_engine, test_settings)
    meta.answer_gate = threading.Event()
    attempt = asyncio.ensure_future(sender.send_message(request))
    await ana.wait_received(2)  # Meta has the message; its answer has not come back yet
    assert await stored_sends(db_engine) == [("sending", "¿Sigues ahí?")]
    attempt.cancel()  # the worker dies during the provider call
    with pytest.raises(asyncio.CancelledError):
        await attempt
    meta.answer_gate.set()

    await sender.send_message(request)  # the retry cannot know whether Meta got it: resends

    assert len(meta.messages_to(ana.wa_id)) == 3  # the one duplicate the rule allows
    assert await stored_sends(db_engine) == [("sent", "¿Sigues ahí?")]
    assert "may get it twice" in caplog.text
    await sender.send_message(request)  # once `sent` is stored, no retry sends again
    assert len(meta.messages_to(ana.wa_id)) == 3


async def test_a_late_repeat_of_a_runs_start_leaves_the_ended_run_ended(
    api: httpx.AsyncClient, meta: FakeMeta, db_engine: AsyncEngine, test_settings: Settings
) -> None:
    """A retried write that stores the run's start, committing after the run ended (its first
    attempt had committed), neither reopens the run nor makes it current again."""
    flow = chain(node("hi", "message", content="Hola"))
    channel_id, phone = await make_whatsapp_bot(db_engine, test_settings, flow)
    ana = WhatsAppUser(api, meta, channel_id, phone, wa_id="34600999777")
    await ana.says("hola")
    await ana.wait_received(1)
    sessions = make_session_factory(db_engine)

    async def ended() -> FlowRun | None:
        async with sessions() as session:
            run = await session.scalar(select(FlowRun))
        return run if run is not None and run.status == "completed" else None

    run = await wait_for(ended, what="the flow run to end")
    start = RunStart(
        run_id=str(uuid.uuid4()),  # a retry asks with the workflow's id for the run
        conversation_id=str(run.conversation_id),
        flow_id=str(run.flow_id),
        version_id=str(run.flow_version_id),
        workflow_id=run.workflow_id,
        variables={},
    )
    async with sessions.begin() as session:
        assert await store_run_start(session, start) == (run.id, False)
    async with sessions() as session:
        assert await session.scalar(select(FlowRun.status)) == "completed"
        assert await session.scalar(select(Conversation.current_flow_run_id)) is None
