"""A workflow task that fails after its local activity committed is retried, and the message
it was handling is still routed and answered (the retry finds its own first insert): whether
the message was stored by a local activity of its own, or (an answer) with the run's send."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, ClassVar

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
from models.payloads.activity_names import (
    OPEN_AND_RECORD,
    RECORD_AND_MATCH,
    RECORD_INBOUND,
    SEND_MESSAGE,
)
from models.settings import Settings
from tests.helpers import WebChat, api_client, chain, make_web_bot, node
from worker.registry import build_activities, workflows

TASK_QUEUE = "botbuilder-task-retry"


class Crashes:
    """The local activities after which a workflow task failed (once each), right after they
    committed an inbound message."""

    after: ClassVar[list[str]] = []


def stores_inbound(input: StartLocalActivityInput) -> bool:
    if input.activity == SEND_MESSAGE:
        return bool(input.args[0].inbound)
    return input.activity in (OPEN_AND_RECORD, RECORD_INBOUND, RECORD_AND_MATCH)


class CrashAfterRecord(WorkflowOutboundInterceptor):
    def start_local_activity(self, input: StartLocalActivityInput) -> Any:
        handle = super().start_local_activity(input)
        if not stores_inbound(input):
            return handle

        async def then_crash() -> Any:
            result = await handle
            if input.activity not in Crashes.after and not workflow.unsafe.is_replaying():
                Crashes.after.append(input.activity)
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
    Crashes.after = []
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
    # both messages were stored by a task that then failed: the first as the conversation
    # opened, the answer with the run's next send
    assert Crashes.after == [OPEN_AND_RECORD, SEND_MESSAGE]
    async with make_session_factory(db_engine)() as session:
        inbound = await session.scalar(select(func.count()).where(Message.direction == "inbound"))
    assert inbound == 2
