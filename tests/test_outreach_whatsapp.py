"""A proactive start on WhatsApp: the window is closed, so the first message goes out as the
channel's re-engagement template and the flow goes on when the contact answers it."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from models.bot_tables import Channel
from models.conversation_tables import FlowRun
from models.db import make_session_factory
from models.flow_tables import Flow
from models.outreach_tables import Outreach
from models.settings import Settings
from services.conversations.outreach import OutreachInput, create_outreach, progress_of
from tests.channel_chat import WhatsAppUser, make_whatsapp_bot
from tests.fake_meta import FakeMeta
from tests.helpers import chain, node, wait_for
from workflows.outreach import OutreachWorkflow

OFFER = chain(
    node(
        "offer",
        "button",
        content="¿Te interesa nuestra oferta?",
        variable="interest",
        options=[{"id": "yes", "label": "Sí"}, {"id": "no", "label": "No"}],
    ),
    node("thanks", "message", content="Genial: {{interest}}"),
)
INTRO = {"name": "offer_intro", "language": "es"}


async def start_outreach(
    engine: AsyncEngine,
    env: WorkflowEnvironment,
    settings: Settings,
    channel_id: str,
    contacts: list[str],
) -> uuid.UUID:
    async with make_session_factory(engine).begin() as session:
        channel = await session.get(Channel, uuid.UUID(channel_id))
        assert channel is not None
        flow = await session.scalar(select(Flow).where(Flow.bot_id == channel.bot_id))
        assert flow is not None
        row = await create_outreach(session, flow, channel, [(c, None) for c in contacts], 10, None)
    await env.client.start_workflow(
        OutreachWorkflow.run,
        OutreachInput(outreach_id=str(row.id)),
        id=row.workflow_id,
        task_queue=settings.task_queue,
    )
    return row.id


async def test_an_outreach_on_whatsapp_opens_with_the_template_and_goes_on_when_answered(
    api: httpx.AsyncClient,
    meta: FakeMeta,
    db_engine: AsyncEngine,
    test_settings: Settings,
    temporal_env: WorkflowEnvironment,
):
    channel_id, phone = await make_whatsapp_bot(
        db_engine, test_settings, OFFER, reengagement_template=INTRO
    )
    # Numbers as people type them: both reach the wa_ids the webhooks will carry.
    outreach_id = await start_outreach(
        db_engine, temporal_env, test_settings, channel_id, ["+34 600 111 222", "34600333444"]
    )

    async def completed() -> bool:
        async with make_session_factory(db_engine)() as session:
            row = await session.get(Outreach, outreach_id)
            return row is not None and row.status == "completed"

    await wait_for(completed, what="the outreach to complete")
    async with make_session_factory(db_engine)() as session:
        progress = await progress_of(session, outreach_id, 10)
    assert (progress.started, progress.failed) == (2, 0)

    ana, ben = (
        WhatsAppUser(api, meta, channel_id, phone, wa_id=wa_id)
        for wa_id in ("34600111222", "34600333444")
    )
    for user in (ana, ben):
        (intro,) = await user.wait_received(1)
        assert intro["template"] == {"name": "offer_intro", "language": {"code": "es"}}
    await ana.send("button", {"payload": "Sí", "text": "Sí"})  # the template's quick reply
    assert (await ana.wait_received(2))[1]["text"]["body"] == "Genial: Sí"
    async with make_session_factory(db_engine)() as session:
        assert len((await session.scalars(select(FlowRun))).all()) == 2
    assert len(ben.received()) == 1
