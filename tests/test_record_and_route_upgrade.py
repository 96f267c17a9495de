"""Conversations already running at a deploy finish on the new code.

A conversation started as `Conversation` (flow runs as child `FlowRun` workflows) before
`BotConversation` existed, and before `RECORD_AND_ROUTE` (its messages stored and routed by two
local activities): after the deploy a new worker replays it, the ingress's signal-with-start
of a `BotConversation` joins it (a running workflow id takes the signal whatever its type), and
it drains on the old types and the old path (Temporal memoizes `patched` per run), while a
contact who writes after the deploy gets a `BotConversation` that runs its flow itself."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from models.messages import InboundMessage
from models.payloads.activity_names import (
    MATCH_FLOW,
    OPEN_AND_RECORD,
    OPEN_CONVERSATION,
    RECORD_INBOUND,
    SEND_MESSAGE,
)
from models.payloads.engine import ContactRef, ConversationInput
from models.settings import Settings
from tests.helpers import WebChat, api_client, make_web_bot
from tests.upgrades import ASK_AND_GREET, before_patch, engine_worker, local_activities
from workflows.conversation import RECORD_AND_ROUTE, ConversationWorkflow
from workflows.conversation_base import conversation_workflow_id

TASK_QUEUE = "botbuilder-upgrade"


async def start_as_conversation(client: Client, bot: str, channel: str, contact: str) -> str:
    """What the ingress did before `BotConversation`: signal-with-start a `Conversation`."""
    workflow_id = conversation_workflow_id(bot, channel, contact)
    message = InboundMessage(
        provider_message_id=str(uuid.uuid4()),
        text="hello",
        received_at=datetime.now(UTC).isoformat(),
    )
    await client.start_workflow(
        ConversationWorkflow.run,
        ConversationInput(
            bot_id=bot,
            channel_id=channel,
            channel_kind="web",
            contact=ContactRef(external_id=contact),
        ),
        id=workflow_id,
        task_queue=TASK_QUEUE,
        start_signal="inbound",
        start_signal_args=[message],
    )
    return workflow_id


async def workflow_type(client: Client, workflow_id: str) -> str:
    return (await client.get_workflow_handle(workflow_id).describe()).workflow_type


async def test_a_conversation_started_on_the_old_path_finishes_on_the_new(
    temporal_env: WorkflowEnvironment,
    test_settings: Settings,
    db_engine: AsyncEngine,
    clean_db: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot, channel = await make_web_bot(db_engine, ASK_AND_GREET)
    settings = test_settings.model_copy(update={"task_queue": TASK_QUEUE})
    async with api_client(settings) as api:
        chat = WebChat(api, channel, "upgraded")
        monkeypatch.setattr(workflow, "patched", before_patch(RECORD_AND_ROUTE))
        async with engine_worker(temporal_env, test_settings, db_engine, TASK_QUEUE):
            await start_as_conversation(temporal_env.client, bot, channel, "upgraded")
            assert await chat.wait_replies(1) == ["What is your name?"]
        monkeypatch.undo()  # the deploy: the current code from here on
        async with engine_worker(temporal_env, test_settings, db_engine, TASK_QUEUE):
            await chat.say("Ana")  # replays the old path, then hands the answer to the run
            assert await chat.wait_replies(2) == ["What is your name?", "Hi Ana"]
            await chat.say("hello")  # the flow starts again, still on the old path
            replies = ["What is your name?", "Hi Ana", "What is your name?"]
            assert await chat.wait_replies(3, timeout=30) == replies
            newcomer = WebChat(api, channel, "newcomer")
            await newcomer.say("hello")
            assert await newcomer.wait_replies(1) == ["What is your name?"]
    client = temporal_env.client
    old = [
        OPEN_CONVERSATION,
        RECORD_INBOUND,
        MATCH_FLOW,
        RECORD_INBOUND,
        RECORD_INBOUND,
        MATCH_FLOW,
    ]
    upgraded = conversation_workflow_id(bot, channel, "upgraded")
    assert await local_activities(client, upgraded) == old
    assert await workflow_type(client, upgraded) == "Conversation"
    assert await workflow_type(client, f"{upgraded}-run-2") == "FlowRun"  # the flow's restart
    started_after = conversation_workflow_id(bot, channel, "newcomer")
    assert await workflow_type(client, started_after) == "BotConversation"
    in_one_workflow = [OPEN_AND_RECORD, SEND_MESSAGE]  # the run's row with the send
    assert await local_activities(client, started_after) == in_one_workflow
