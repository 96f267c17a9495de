"""Durable timers measured in days, proven on Temporal's time-skipping test server."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.conversation_tables import FlowRun, Message
from models.db import make_session_factory
from models.messages import InboundMessage
from models.payloads.engine import BotConversationInput, ContactRef, ConversationInput
from models.settings import Settings
from tests.helpers import chain, history_counts, make_web_bot, node, wait_for
from worker.registry import build_activities, workflow_runner, workflows
from workflows.bot_conversation import BotConversationWorkflow
from workflows.client import ensure_search_attributes
from workflows.conversation import ConversationWorkflow
from workflows.conversation_base import conversation_workflow_id
from workflows.interpreter import REVISION

QUEUE = "time-skipping"


def time_skipping_server_path() -> str:
    beside = Path(sys.executable).parent / "temporal-test-server"
    return str(beside) if beside.exists() else shutil.which("temporal-test-server") or ""


@pytest.fixture
async def skipping_env(
    db_engine: AsyncEngine, test_settings: Settings, clean_db: None
) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=time_skipping_server_path(),
        data_converter=pydantic_data_converter,
    )
    await ensure_search_attributes(env.client, "default")
    worker = Worker(
        env.client,
        task_queue=QUEUE,
        workflows=workflows(),
        activities=build_activities(test_settings, make_session_factory(db_engine)),
        workflow_runner=workflow_runner(),
    )
    async with worker:
        yield env
    await env.shutdown()


async def start_conversation(env: WorkflowEnvironment, bot: str, channel: str, text: str) -> Any:
    return await env.client.start_workflow(
        ConversationWorkflow.run,
        ConversationInput(
            bot_id=bot,
            channel_id=channel,
            channel_kind="web",
            contact=ContactRef(external_id="sleeper"),
        ),
        id=conversation_workflow_id(bot, channel, "sleeper"),
        task_queue=QUEUE,
        start_signal="inbound",
        start_signal_args=[InboundMessage(provider_message_id="t1", text=text)],
    )


async def outbound_texts(engine: AsyncEngine) -> list[str]:
    async with make_session_factory(engine)() as session:
        query = select(Message.text).where(Message.direction == "outbound")
        return list((await session.scalars(query.order_by(Message.created_at))).all())


async def _texts_at_least(engine: AsyncEngine, count: int) -> bool:
    return len(await outbound_texts(engine)) >= count


async def test_a_three_day_delay_then_a_question_timeout(
    skipping_env: WorkflowEnvironment, db_engine: AsyncEngine
):
    definition = {
        "name": "patient",
        "nodes": [
            node("before", "message", content="Te escribo en 3 días"),
            node("wait", "delay", duration={"value": 3, "unit": "days"}),
            node("after", "question", content="¿Sigues ahí?", timeout=3600),
            node("answered", "message", content="¡Genial!"),
            node("silent", "message", content="Vale, hasta otra"),
        ],
        "edges": [
            {"id": "e1", "source": "before", "target": "wait"},
            {"id": "e2", "source": "wait", "target": "after"},
            {"id": "e3", "source": "after", "target": "answered"},
            {"id": "e4", "source": "after", "target": "silent", "sourceHandle": "timeout"},
        ],
    }
    bot, channel = await make_web_bot(db_engine, definition)
    started = await skipping_env.get_current_time()
    handle = await start_conversation(skipping_env, bot, channel, "hola")

    async def run_done() -> bool:
        async with make_session_factory(db_engine)() as session:
            return await session.scalar(select(FlowRun.status)) == "completed"

    await wait_for(lambda: _texts_at_least(db_engine, 1), what="the first message")
    await skipping_env.sleep(timedelta(days=3, hours=2))
    await wait_for(run_done, timeout=30, what="the run to finish")
    assert await outbound_texts(db_engine) == [
        "Te escribo en 3 días",
        "¿Sigues ahí?",
        "Vale, hasta otra",
    ]
    elapsed = (await skipping_env.get_current_time()) - started
    assert elapsed.total_seconds() >= 3 * 86400 + 3600
    await handle.terminate("test finished")


async def test_silence_is_kept_by_one_timer_and_still_times_out_on_time(
    skipping_env: WorkflowEnvironment, db_engine: AsyncEngine
):
    """Answers move the deadline of the contact's silence without a timer each; the timer starts
    again only when it fires early, or for a question's shorter timeout; silence still ends a
    question and, later, the conversation at the minute it should."""
    definition = chain(
        node("name", "question", content="¿Nombre?", variable="name"),
        node("city", "question", content="¿Ciudad?", variable="city"),
        node("quick", "question", content="¿Rápido?", variable="quick", timeout=600),
        node("done", "message", content="Gracias"),
    )
    definition["nodes"].append(node("slow", "message", content="Demasiado lento"))
    definition["edges"].append(
        {"id": "late", "source": "quick", "target": "slow", "sourceHandle": "timeout"}
    )
    bot, channel = await make_web_bot(
        db_engine, definition, bot_settings={"inactivity_timeout_seconds": 3600}
    )
    contact = ContactRef(external_id="sleeper")
    started = await skipping_env.get_current_time()
    handle = await skipping_env.client.start_workflow(
        BotConversationWorkflow.run,
        BotConversationInput(
            bot_id=bot, channel_id=channel, channel_kind="web", contact=contact, revision=REVISION
        ),
        id=conversation_workflow_id(bot, channel, "sleeper"),
        task_queue=QUEUE,
        start_signal="inbound",
        start_signal_args=[InboundMessage(provider_message_id="m1", text="hola")],
    )

    async def answer(minutes: int, message_id: str, text: str, replies: int) -> None:
        now = await skipping_env.get_current_time()
        await skipping_env.sleep(started + timedelta(minutes=minutes) - now)
        await handle.signal("inbound", InboundMessage(provider_message_id=message_id, text=text))
        await wait_for(lambda: _texts_at_least(db_engine, replies), what=f"reply {replies}")

    await wait_for(lambda: _texts_at_least(db_engine, 1), what="the first question")
    await answer(40, "m2", "Ana", 2)  # the 60-min deadline moves to 100 min: no new timer
    await answer(70, "m3", "Madrid", 3)  # fired at 60, slept on; a 10-min question: a timer
    await skipping_env.sleep(
        started + timedelta(minutes=85) - await skipping_env.get_current_time()
    )
    await wait_for(lambda: _texts_at_least(db_engine, 4), what="the question's timeout")
    assert await outbound_texts(db_engine) == [
        "¿Nombre?",
        "¿Ciudad?",
        "¿Rápido?",
        "Demasiado lento",
    ]
    await skipping_env.sleep(
        started + timedelta(minutes=135) - await skipping_env.get_current_time()
    )
    running = (await handle.describe()).status
    assert running == WorkflowExecutionStatus.RUNNING  # 55 min after the run ended
    assert await handle.result() == "abandoned"  # an hour after the run ended, at 80 min
    elapsed = (await skipping_env.get_current_time()) - started
    assert timedelta(minutes=140) <= elapsed < timedelta(minutes=145)
    timers = await history_counts(handle)
    assert [timers["TIMER_STARTED"], timers["TIMER_CANCELED"], timers["TIMER_FIRED"]] == [4, 1, 3]
