"""What one inbound WhatsApp message costs the engine, counted (not timed), against the
budget the README states: a new contact's first message, and an answer in a running flow."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from models.bot_tables import Channel
from models.conversation_tables import Conversation, FlowRun, FlowRunStep
from models.db import make_session_factory
from models.settings import Settings
from tests.channel_chat import WhatsAppUser, make_whatsapp_bot
from tests.fake_meta import FakeMeta
from tests.helpers import chain, node, wait_for
from tests.message_cost import SqlCount, SqlCounter, now, temporal_cost
from workflows.bot_conversation import BotConversationWorkflow
from workflows.conversation_base import conversation_workflow_id

QUESTIONS = chain(
    node("name", "question", content="¿Cómo te llamas?", variable="name"),
    node("city", "question", content="Hola {{name}}, ¿de dónde eres?", variable="city"),
    node("color", "question", content="¿Y tu color favorito?", variable="color"),
)


# The most each may cost; README "Performance" explains each figure. Lower them when a change
# makes a message cheaper: they guard against it getting dearer again unnoticed.
NEW_CONTACT = {  # the conversation opens with its first message and its flow run begins
    "workflow tasks": 1,
    "history events": 9,
    "local activities": 2,
    "activities": 0,
    "search-attribute upserts": 1,  # the run's (with the conversation's)
    "child workflows": 0,
    "signals sent": 0,
    "worker SQL statements": 10,  # 13 before the webhook events went with their facts
    "worker transactions": 3,
    "worker pre-ping round trips": 0,
    "API SQL statements": 1,  # the channel's first webhook in this API process reads it
}
ANSWER = {  # the run takes the message and sends the next question, storing both in one go
    "workflow tasks": 1,
    "history events": 5,  # no timer started and cancelled: the silence timer runs on
    "local activities": 1,
    "activities": 0,
    "search-attribute upserts": 0,
    "signals sent": 0,
    "worker SQL statements": 6,
    "worker transactions": 2,
    "worker pre-ping round trips": 0,
    "API SQL statements": 0,  # the process remembers the channel
}
LAST_ANSWER = {  # the run ends: the answer and its last steps go with its end, in one write
    **ANSWER,
    "history events": 6,
    "search-attribute upserts": 1,  # the run's Status
    "worker SQL statements": 3,
    "worker transactions": 1,
}
NEW_RUN = {  # a message starting a flow in an existing conversation: continue-as-new first
    "workflow tasks": 2,
    "history events": 12,
    "local activities": 2,
    "activities": 0,
    "search-attribute upserts": 0,  # the new run begins with the run's attributes
    "child workflows": 0,
    "signals sent": 0,
    "worker SQL statements": 7,
    "worker transactions": 3,
    "worker pre-ping round trips": 0,
    "API SQL statements": 0,
}

# A flow that answers and ends (the bench's echo): its one send also stores the run's end.
PONG = chain(node("pong", "message", content="pong"))
PONG_NEW_CONTACT = {  # the conversation opens, the run answers and ends
    "workflow tasks": 1,
    "history events": 10,  # 11 before revision 2
    "local activities": 2,  # 3 before revision 2: the run's end was one of its own
    "search-attribute upserts": 2,  # the run's (with the conversation's), its Status
    "worker SQL statements": 12,
    "worker transactions": 3,  # 4 before revision 2
}
PONG_AGAIN = {  # the next message: continue-as-new, a new run that answers and ends
    "workflow tasks": 2,
    "history events": 13,  # 14 before revision 2
    "local activities": 2,  # 3 before revision 2
    "search-attribute upserts": 1,  # its Status
    "worker SQL statements": 9,
    "worker transactions": 3,  # 4 before revision 2
}


async def bot_of(engine: AsyncEngine, channel_id: str) -> str:
    async with make_session_factory(engine)() as session:
        channel = await session.get(Channel, uuid.UUID(channel_id))
    assert channel is not None
    return str(channel.bot_id)


async def no_flow_runs(client: Client, conversation: str) -> bool:
    """Whether the conversation's flow run has ended (it says it has no active run)."""
    status = await client.get_workflow_handle(conversation).query(BotConversationWorkflow.status)
    return status["active_run"] is None


async def measure(
    user: WhatsAppUser, text: str, replies: int, sql: SqlCounter, client: Client, conversation: str
) -> dict[str, int]:
    """Send `text`, wait for its reply and for the workflows to settle; what it cost."""
    since = now()
    sql.worker, sql.api = SqlCount(), SqlCount()
    with sql.counting():
        await user.says(text)
        await user.wait_received(replies)
        cost = await temporal_cost(client, conversation, since)
    return {
        **cost,
        "worker SQL statements": sql.worker.statements,
        "worker transactions": sql.worker.transactions,
        "worker pre-ping round trips": sql.worker.pings,
        "API SQL statements": sql.api.statements,
        "API transactions": sql.api.transactions,
    }


async def contact_of_a_bot(
    api: httpx.AsyncClient,
    meta: FakeMeta,
    engine: AsyncEngine,
    settings: Settings,
    definition: dict[str, Any],
    wa_id: str,
) -> tuple[WhatsAppUser, str, SqlCounter]:
    """A WhatsApp contact of a new bot running `definition`: the contact, its conversation's
    workflow id, and the counter of that conversation's SQL."""
    channel_id, phone_number_id = await make_whatsapp_bot(engine, settings, definition)
    user = WhatsAppUser(api, meta, channel_id, phone_number_id, wa_id=wa_id)
    conversation = conversation_workflow_id(await bot_of(engine, channel_id), channel_id, wa_id)
    return user, conversation, SqlCounter(engine.sync_engine, conversation)


def within_budget(*measured: tuple[dict[str, int], dict[str, int]]) -> None:
    """Each (cost, budget) pair: nothing counted over its budget."""
    for cost, budget in measured:
        over = {
            kind: (cost.get(kind, 0), most)
            for kind, most in budget.items()
            if cost.get(kind, 0) > most
        }
        assert not over, f"over the budget (counted, budget): {over}"


async def test_one_message_costs_no_more_than_the_budget(
    api: httpx.AsyncClient,
    meta: FakeMeta,
    db_engine: AsyncEngine,
    test_settings: Settings,
    temporal_env: WorkflowEnvironment,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user, conversation, sql = await contact_of_a_bot(
        api, meta, db_engine, test_settings, QUESTIONS, "34600999888"
    )
    client = temporal_env.client
    new_contact = await measure(user, "hola", 1, sql, client, conversation)
    first_answer = await measure(user, "Ana", 2, sql, client, conversation)
    answer = await measure(user, "Madrid", 3, sql, client, conversation)
    last_answer = await measure(user, "azul", 3, sql, client, conversation)  # the run ends
    await wait_for(lambda: no_flow_runs(client, conversation), what="the run's end")
    new_run = await measure(user, "hola", 4, sql, client, conversation)
    with capsys.disabled():
        costs = {
            "new contact": new_contact,
            "first answer": first_answer,
            "answer": answer,
            "last answer": last_answer,
            "new run": new_run,
        }
        print("\nper inbound message:", costs)
    within_budget(
        (new_contact, NEW_CONTACT),
        (first_answer, ANSWER),
        (answer, ANSWER),
        (last_answer, LAST_ANSWER),
        (new_run, NEW_RUN),
    )


async def test_a_reply_that_ends_the_run_stores_the_end_with_it(
    api: httpx.AsyncClient,
    meta: FakeMeta,
    db_engine: AsyncEngine,
    test_settings: Settings,
    temporal_env: WorkflowEnvironment,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user, conversation, sql = await contact_of_a_bot(
        api, meta, db_engine, test_settings, PONG, "34600999777"
    )
    client = temporal_env.client
    new_contact = await measure(user, "ping", 1, sql, client, conversation)
    await wait_for(lambda: no_flow_runs(client, conversation), what="the run's end")
    again = await measure(user, "ping", 2, sql, client, conversation)
    await wait_for(lambda: no_flow_runs(client, conversation), what="the second run's end")
    with capsys.disabled():
        print("\nper inbound message:", {"new contact": new_contact, "again": again})
    within_budget((new_contact, PONG_NEW_CONTACT), (again, PONG_AGAIN))
    async with make_session_factory(db_engine)() as session:
        runs = (
            await session.execute(
                select(FlowRun.status, FlowRun.ended_at, FlowRunStep.outcome, FlowRunStep.ended_at)
                .join(FlowRunStep, FlowRunStep.flow_run_id == FlowRun.id)
                .join(Conversation, Conversation.id == FlowRun.conversation_id)
                .where(Conversation.workflow_id == conversation)
            )
        ).all()
    assert len(runs) == 2
    for status, ended_at, outcome, step_ended_at in runs:  # each ended, with its step
        assert (status, outcome) == ("completed", "default")
        assert ended_at is not None and step_ended_at is not None
