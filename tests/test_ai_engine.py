"""The `ai` node end to end: web channel → Temporal → fake OpenAI API → the contact."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from flowlang.templates import default_templates
from models.conversation_tables import FlowRun, FlowRunStep
from models.db import make_session_factory
from models.payloads.activity_names import AI_COMPLETION
from tests.fake_openai import FakeOpenAI
from tests.helpers import WebChat, make_web_bot, wait_for
from workflows.run_client import hosting_workflow


def ai_flow(model: str) -> dict[str, Any]:
    """Ask, let the model answer; on failure apologise."""
    nodes = [
        {"id": "ask", "type": "question", "data": {"content": "¿Qué necesitas?", "variable": "q"}},
        {
            "id": "think",
            "type": "ai",
            "data": {"prompt": "Ayuda con: {{q}}", "aiModel": model, "retryAttempts": 2},
        },
        {"id": "done", "type": "message", "data": {"content": "¿Algo más?"}},
        {"id": "sorry", "type": "message", "data": {"content": "Lo siento: {{think.error}}"}},
    ]
    edges = [
        {"id": "e1", "source": "ask", "target": "think"},
        {"id": "e2", "source": "think", "target": "done"},
        {"id": "e3", "source": "think", "target": "sorry", "sourceHandle": "error"},
    ]
    return {"name": f"ai {model}", "nodes": nodes, "edges": edges}


async def finished_run(engine: AsyncEngine, contact: str) -> FlowRun:
    """The contact's flow run, once it is no longer running (a late write of an earlier test's
    worker may leave another test's run in the table)."""

    async def finished() -> FlowRun | None:
        async with make_session_factory(engine)() as session:
            run = await session.scalar(
                select(FlowRun).where(FlowRun.workflow_id.contains(f"-{contact}@"))
            )
        return run if run is not None and run.status != "running" else None

    return await wait_for(finished, what="the flow run to finish")


async def ask_for_help(
    api: httpx.AsyncClient, db_engine: AsyncEngine, model: str
) -> tuple[list[str], str | None]:
    """Run `ai_flow(model)` to its end; the bot's replies and how the `ai` node left."""
    _bot, channel = await make_web_bot(db_engine, ai_flow(model))
    chat = WebChat(api, channel, f"help-{model}")
    await chat.say("hola")
    await chat.wait_replies(1)  # a contact answers the question once it is asked
    await chat.say("mi impresora")
    run = await finished_run(db_engine, f"help-{model}")
    assert run.status == "completed"
    async with make_session_factory(db_engine)() as session:
        outcome = await session.scalar(
            select(FlowRunStep.outcome).where(
                FlowRunStep.flow_run_id == run.id, FlowRunStep.node_id == "think"
            )
        )
    return await chat.replies(), outcome


async def ai_activity_results(client: Client, run_workflow_id: str) -> list[dict[str, Any]]:
    """What the run's history (and so its page in the Temporal UI) shows as the AI activity's
    output."""
    workflow_id, run_id = hosting_workflow(run_workflow_id)
    scheduled: set[int] = set()
    results = []
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    async for event in handle.fetch_history_events():
        if event.activity_task_scheduled_event_attributes.activity_type.name == AI_COMPLETION:
            scheduled.add(event.event_id)
        completed = event.activity_task_completed_event_attributes
        if completed.scheduled_event_id in scheduled:
            results.append(json.loads(completed.result.payloads[0].data))
    return results


async def test_the_ai_template_runs_whole(
    api: httpx.AsyncClient, db_engine: AsyncEngine, fake_openai: FakeOpenAI, temporal_env: Any
) -> None:
    template = next(t for t in default_templates() if t.slug == "ai-tech-support")
    _bot, channel = await make_web_bot(
        db_engine, template.definition.model_dump(mode="json", by_alias=True)
    )
    chat = WebChat(api, channel, "ai-template")
    await chat.say("hola")
    await chat.wait_replies(2)
    await chat.say("Mi wifi no conecta")
    answer = (await chat.wait_replies(3))[-1]
    assert answer == (
        "[gpt-3.5-turbo] Analiza el siguiente problema técnico y proporciona una solución paso "
        "a paso: Mi wifi no conecta"
    )
    assert fake_openai.requests_for("gpt-3.5-turbo")[-1]["max_tokens"] == 200
    run = await finished_run(db_engine, "ai-template")
    assert run.status == "completed"
    assert run.variables["aiResponse"] == answer
    usage = {"prompt_tokens": 16, "completion_tokens": 17, "total_tokens": 33}
    assert run.variables["analyzeWithAI"]["usage"] == usage
    [result] = await ai_activity_results(temporal_env.client, run.workflow_id)
    assert (result["model"], result["usage"]) == ("gpt-3.5-turbo", usage)


async def test_a_rate_limit_is_retried_and_the_answer_still_arrives(
    api: httpx.AsyncClient, db_engine: AsyncEngine, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_next("engine-flaky", "rate_limit")
    replies, outcome = await ask_for_help(api, db_engine, "engine-flaky")
    assert replies == ["¿Qué necesitas?", "[engine-flaky] Ayuda con: mi impresora", "¿Algo más?"]
    assert outcome == "default"
    assert len(fake_openai.requests_for("engine-flaky")) == 2


async def test_a_refused_key_takes_the_error_edge_without_retrying(
    api: httpx.AsyncClient, db_engine: AsyncEngine, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_next("engine-revoked", "invalid_api_key")
    replies, outcome = await ask_for_help(api, db_engine, "engine-revoked")
    assert replies == [
        "¿Qué necesitas?",
        "Lo siento: the AI completion failed: the AI service answered 401: Incorrect API key "
        "provided. You can find your API key at https://platform.openai.com/account/api-keys.",
    ]
    assert outcome == "error"
    assert len(fake_openai.requests_for("engine-revoked")) == 1
