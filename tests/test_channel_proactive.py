"""Proactive starts: a flow for contacts who have not written first, with readable progress."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from models.conversation_tables import FlowRun
from models.db import make_session_factory
from models.proactive import (
    ProactiveProgress,
    ProactiveStartError,
    proactive_progress,
    start_flow_for_contacts,
)
from models.settings import Settings
from models.tables import Channel, Flow
from tests.channel_chat import WhatsAppUser, chain, make_whatsapp_bot, node
from tests.fake_meta import FakeMeta
from tests.helpers import make_web_bot, wait_for

OFFER = chain(
    node("offer", "button", content="¿Te interesa nuestra oferta?", variable="interest",
         options=[{"id": "yes", "label": "Sí"}, {"id": "no", "label": "No"}]),
    node("thanks", "message", content="Genial: {{interest}}"),
)  # fmt: skip
INTRO = {"name": "offer_intro", "language": "es"}


async def flow_of(engine: AsyncEngine, channel_id: str) -> str:
    async with make_session_factory(engine)() as session:
        return str(await session.scalar(
            select(Flow.id).join(Channel, Channel.bot_id == Flow.bot_id)
            .where(Channel.id == uuid.UUID(channel_id))
        ))  # fmt: skip


async def finished(client, workflow_id: str) -> ProactiveProgress:
    async def done() -> ProactiveProgress | None:
        progress = await proactive_progress(client, workflow_id)
        return progress if progress.done else None

    return await wait_for(done, what="the proactive start to finish")


async def run_count(engine: AsyncEngine) -> int:
    async with make_session_factory(engine)() as session:
        return len((await session.scalars(select(FlowRun))).all())


async def test_a_flow_starts_for_a_list_of_whatsapp_contacts(
    api: httpx.AsyncClient, meta: FakeMeta, db_engine: AsyncEngine, test_settings: Settings,
    temporal_env: WorkflowEnvironment,
):  # fmt: skip
    channel_id, phone = await make_whatsapp_bot(db_engine, test_settings, OFFER,
                                                reengagement_template=INTRO)  # fmt: skip
    flow_id = await flow_of(db_engine, channel_id)
    client, sessions = temporal_env.client, make_session_factory(db_engine)
    contacts = ["+34 600 111 222", "34600333444", "34600333444", "not-a-number"]
    workflow_id = await start_flow_for_contacts(
        client, sessions, test_settings.task_queue, channel_id, flow_id, contacts
    )
    progress = await finished(client, workflow_id)
    assert progress == ProactiveProgress(
        total=3, started=2, done=True,
        refused={"not-a-number": "not a WhatsApp number, digits only"},
    )  # fmt: skip

    ana, ben = (WhatsAppUser(api, meta, channel_id, phone, wa_id=wa_id)
                for wa_id in ("34600111222", "34600333444"))  # fmt: skip
    for user in (ana, ben):
        (intro,) = await user.wait_received(1)
        assert intro["template"] == {"name": "offer_intro", "language": {"code": "es"}}

    again = await start_flow_for_contacts(
        client, sessions, test_settings.task_queue, channel_id, flow_id, ["34600333444"]
    )
    assert (await finished(client, again)).started == 1
    await ana.send("button", {"payload": "Sí", "text": "Sí"})  # the template's quick reply
    assert (await ana.wait_received(2))[1]["text"]["body"] == "Genial: Sí"
    assert await run_count(db_engine) == 2, "a contact already in the flow is left alone"
    assert len(ben.received()) == 1


async def test_a_proactive_start_on_the_web_runs_at_once(
    api: httpx.AsyncClient, db_engine: AsyncEngine, test_settings: Settings,
    temporal_env: WorkflowEnvironment,
):  # fmt: skip
    _bot, channel_id = await make_web_bot(db_engine, OFFER)
    workflow_id = await start_flow_for_contacts(
        temporal_env.client, make_session_factory(db_engine), test_settings.task_queue,
        channel_id, await flow_of(db_engine, channel_id), ["visitor-1"],
    )  # fmt: skip
    assert (await finished(temporal_env.client, workflow_id)).started == 1

    async def question() -> list[str] | None:
        url = f"/channels/web/{channel_id}/contacts/visitor-1/messages"
        texts = [m["text"] for m in (await api.get(url)).json()]
        return texts or None

    assert (await wait_for(question, what="the first question"))[0].startswith("¿Te interesa")


async def test_bad_requests_are_refused_with_a_reason(
    db_engine: AsyncEngine, test_settings: Settings, temporal_env: WorkflowEnvironment, clean_db
):
    channel_id, _phone = await make_whatsapp_bot(db_engine, test_settings, OFFER)
    _bot, other_channel = await make_web_bot(db_engine, OFFER)
    flow_id = await flow_of(db_engine, channel_id)
    sessions = make_session_factory(db_engine)
    cases = [
        (channel_id, flow_id, [], "between 1 and"),
        (channel_id, "nope", ["34600111222"], "must be UUIDs"),
        (str(uuid.uuid4()), flow_id, ["34600111222"], "no active channel"),
        (other_channel, flow_id, ["visitor"], "has no flow"),
    ]
    for channel, flow, contacts, reason in cases:
        with pytest.raises(ProactiveStartError, match=reason):
            await start_flow_for_contacts(
                temporal_env.client, sessions, test_settings.task_queue, channel, flow, contacts
            )
