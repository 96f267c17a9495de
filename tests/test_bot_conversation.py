"""The `BotConversation` shape: each flow run is a workflow run of the conversation, a long run
continues as new mid-flow without repeating itself, and a signal naming a run that is no longer
the active one is ignored."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment

from models.conversation_tables import FlowRun
from models.db import make_session_factory
from models.payloads.engine import ExternalEvent
from tests.helpers import WebChat, chain, make_web_bot, node, wait_for
from tests.message_cost import runs_since
from tests.test_triggers import waiting_for_payment
from workflows.conversation_base import conversation_workflow_id
from workflows.run_client import hosting_workflow, signal_external_event

SURVEY = chain(
    node("name", "question", content="Name?", variable="name"),
    node("city", "question", content="City?", variable="city"),
    node("color", "question", content="Color?", variable="color"),
    node("bye", "message", content="{{name}} from {{city}} likes {{color}}"),
)


async def flow_runs(engine: AsyncEngine) -> list[FlowRun]:
    async with make_session_factory(engine)() as session:
        return list((await session.scalars(select(FlowRun).order_by(FlowRun.started_at))).all())


async def test_a_long_run_continues_as_new_between_nodes_and_finishes_once(
    api: httpx.AsyncClient,
    db_engine: AsyncEngine,
    temporal_env: WorkflowEnvironment,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Temporal suggests continuing as new after thousands of events; here after 20
    monkeypatch.setattr(
        workflow.Info,
        "is_continue_as_new_suggested",
        lambda info: info.get_current_history_length() > 20,
    )
    bot, channel = await make_web_bot(db_engine, SURVEY)
    chat = WebChat(api, channel, "talkative")
    await chat.say("hi")
    for number, answer in enumerate(("Ana", "Lyon", "green"), start=2):
        await chat.wait_replies(number - 1)
        await chat.say(answer)

    replies = await chat.wait_replies(4)
    assert replies == ["Name?", "City?", "Color?", "Ana from Lyon likes green"]
    [run] = await wait_for(
        lambda: _finished(db_engine), what="the run's end"
    )  # one flow run, although it spans workflow runs
    assert run.variables["color"] == "green"
    conversation = conversation_workflow_id(bot, channel, "talkative")
    runs = await runs_since(temporal_env.client, conversation, 0)
    assert hosting_workflow(run.workflow_id) == (conversation, runs[-1])  # where it began
    began = temporal_env.client.get_workflow_handle(conversation, run_id=runs[-1])
    summaries = [e.user_metadata.summary.data for e in (await began.fetch_history()).events]
    assert not [s for s in summaries if b"store the run's end" in s]  # it ended in a later one


async def _finished(engine: AsyncEngine) -> list[FlowRun] | None:
    runs = await flow_runs(engine)
    return runs if runs and all(run.status == "completed" for run in runs) else None


async def test_an_event_for_a_run_that_has_ended_does_not_reach_the_next_one(
    api: httpx.AsyncClient, db_engine: AsyncEngine, temporal_env: WorkflowEnvironment
) -> None:
    _bot, channel = await make_web_bot(db_engine, waiting_for_payment(timeout=1))
    chat = WebChat(api, channel, "buyer")
    await chat.say("hi")
    assert await chat.wait_replies(2) == ["Pay  please", "Too late"]
    await chat.say("hi")
    await chat.wait_replies(3)

    async def two_runs() -> list[FlowRun] | None:
        runs = await flow_runs(db_engine)
        return runs if len(runs) == 2 else None

    ended, waiting = await wait_for(two_runs, what="the second run")
    assert hosting_workflow(ended.workflow_id)[0] == hosting_workflow(waiting.workflow_id)[0]
    client = temporal_env.client
    stale = ExternalEvent(name="payment", data={"amount": 10, "method": "cash"})
    await signal_external_event(client, ended.workflow_id, stale)
    current = ExternalEvent(name="payment", data={"amount": 20, "method": "card"})
    await signal_external_event(client, waiting.workflow_id, current)

    replies = await chat.wait_replies(4)
    assert replies == ["Pay  please", "Too late", "Pay  please", "Paid 20 via card"]
