"""A workflow task that fails after its local activity committed is retried, and the message
it was handling is still routed and answered (the retry finds its own first insert)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import (
    Interceptor,
    StartLocalActivityInput,
    UnsandboxedWorkflowRunner,
    Worker,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from models.conversation_tables import Message
from models.db import make_session_factory
from models.payloads.activity_names import RECORD_AND_MATCH, RECORD_INBOUND
from models.settings import Settings
from tests.helpers import WebChat, api_client, chain, make_web_bot, node
from worker.registry import build_activities, workflows

TASK_QUEUE = "botbuilder-task-retry"


class Crashes:
    """How many workflow tasks to fail right after an inbound message's store committed."""

    left = 0
    done = 0


class CrashAfterRecord(WorkflowOutboundInterceptor):
    def start_local_activity(self, input: StartLocalActivityInput) -> Any:
        handle = super().start_local_activity(input)
        if input.activity not in (RECORD_INBOUND, RECORD_AND_MATCH):
            return handle

        async def then_crash() -> Any:
            result = await handle
            if Crashes.left > 0 and not workflow.unsafe.is_replaying():
                Crashes.left -= 1
                Crashes.done += 1
                raise RuntimeError("the worker died after the message was stored")
            return result

        return asyncio.ensure_future(then_crash())


class CrashingInbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(CrashAfterRecord(outbound))


class CrashInterceptor(Interceptor):
    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        return CrashingInbound


@pytest.fixture
async def crashing_worker(
    temporal_env: WorkflowEnvironment,
    test_settings: Settings,
    db_engine: AsyncEngine,
    clean_db: None,
) -> AsyncIterator[Settings]:
    """The real workflows and activities, with workflow tasks that fail after a message is
    stored (the interceptor lives outside the sandbox, so it keeps count across retries)."""
    Crashes.left, Crashes.done = 2, 0
    worker = Worker(
        temporal_env.client,
        task_queue=TASK_QUEUE,
        workflows=workflows(),
        activities=build_activities(test_settings, make_session_factory(db_engine)),
        workflow_runner=UnsandboxedWorkflowRunner(),
        interceptors=[CrashInterceptor()],
    )
    async with worker:
        yield test_settings.model_copy(update={"task_queue": TASK_QUEUE})


async def test_a_retried_workflow_task_still_routes_the_message_it_stored(
    crashing_worker: Settings, db_engine: AsyncEngine
):
    definition = chain(
        node("ask", "question", content="What is your name?", variable="name"),
        node("hi", "message", content="Hi {{name}}"),
    )
    _bot, channel = await make_web_bot(db_engine, definition)
    async with api_client(crashing_worker) as api:
        chat = WebChat(api, channel, "retried")
        await chat.say("hello")
        assert await chat.wait_replies(1, timeout=30) == ["What is your name?"]
        await chat.say("Ana")
        assert await chat.wait_replies(2, timeout=30) == ["What is your name?", "Hi Ana"]
    assert Crashes.done == 2  # both messages were stored by a task that then failed
    async with make_session_factory(db_engine)() as session:
        inbound = await session.scalar(select(func.count()).where(Message.direction == "inbound"))
    assert inbound == 2
