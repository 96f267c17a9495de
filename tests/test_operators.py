"""The operators' view: a conversation found by the contact's phone number, readable histories."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowExecution
from temporalio.testing import WorkflowEnvironment

from models.bot_tables import Bot, Channel
from models.db import make_session_factory
from models.settings import Settings
from stack.conversation_view import show_conversation
from stack.ports import free_port
from tests.channel_chat import WhatsAppUser, make_whatsapp_bot
from tests.fake_meta import FakeMeta
from tests.helpers import WebChat, api_client, chain, make_bot, node, wait_for
from worker.main import metrics_runtime
from worker.registry import build_worker
from workflows.client import connect_temporal

MENU = chain(
    node(
        "welcome",
        "message",
        content="¡Bienvenido a la tienda! Te ayudamos con tu pedido hoy mismo, sin esperas",
    ),
    node("ask", "question", content="¿Cómo te llamas?", variable="name"),
    node("thanks", "message", content="Gracias, {{name}}"),
)


@pytest.fixture
def phone() -> str:
    """A Spanish mobile number no other test's contact has (visibility outlives a test)."""
    return f"346{uuid.uuid4().int % 10**8:08d}"


@pytest.fixture
async def whatsapp(
    api: httpx.AsyncClient,
    meta: FakeMeta,
    db_engine: AsyncEngine,
    test_settings: Settings,
    phone: str,
) -> WhatsAppUser:
    channel_id, phone_number_id = await make_whatsapp_bot(db_engine, test_settings, MENU)
    return WhatsAppUser(api, meta, channel_id, phone_number_id, wa_id=phone)


async def find(client: Client, query: str, count: int) -> list[WorkflowExecution]:
    """The executions a visibility query finds, once there are `count` of them."""

    async def found() -> list[WorkflowExecution] | None:
        executions = [execution async for execution in client.list_workflows(query)]
        return executions if len(executions) >= count else None

    return await wait_for(found, what=f"{count} workflows for {query!r}")


def attributes(execution: WorkflowExecution) -> dict[str, Any]:
    return {key.name: value for key, value in execution.typed_search_attributes}


async def test_one_search_by_phone_number_finds_the_conversation_and_its_runs(
    whatsapp: WhatsAppUser, temporal_env: WorkflowEnvironment, phone: str
):
    client = temporal_env.client
    await whatsapp.says("hola")
    await whatsapp.wait_received(2)  # the welcome and the question

    [first] = await find(client, f"ContactId = '{phone}'", 1)
    assert first.workflow_type == "BotConversation"
    run = attributes(first)
    assert run["BotName"] == "test bot" and run["Channel"] == "whatsapp_cloud"
    assert run["ContactUuid"] != phone and run["ConversationId"]
    assert run["FlowName"] == "flow" and run["FlowVersion"] == 1 and run["Status"] == "running"

    await whatsapp.says("Ana")  # the flow ends; the next message starts it again
    await whatsapp.says("hola")
    await whatsapp.wait_received(5)
    by_flow = f"ContactId = '{phone}' AND FlowName = 'flow' AND FlowVersion = 1"
    runs = await find(client, by_flow, 2)  # each flow run is a workflow run of its own
    assert {e.id for e in runs} == {first.id} and len({e.run_id for e in runs}) == 2
    statuses = {e.run_id: attributes(e)["Status"] for e in runs}
    assert statuses[first.run_id] == "completed"
    assert [s for run_id, s in statuses.items() if run_id != first.run_id] == ["running"]
    # the README's way to search by Status (a word the query parser reserves, so quoted)
    [done] = await find(client, f"ContactId = '{phone}' AND `Status` = 'completed'", 1)
    assert done.run_id == first.run_id


async def summaries(client: Client, workflow_id: str) -> list[str]:
    """The summaries recorded in a workflow's history (activities, timers, children), in order."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    payloads = [
        e.user_metadata.summary for e in history.events if e.user_metadata.HasField("summary")
    ]
    return [client.data_converter.payload_converter.from_payload(p, str) for p in payloads]


async def current_details(client: Client, workflow_id: str) -> str:
    """What the Temporal UI shows as the workflow's current details."""
    metadata = await client.get_workflow_handle(workflow_id).query(
        "__temporal_workflow_metadata", result_type=WorkflowMetadata
    )
    return metadata.current_details


async def run_waiting_at_ask(client: Client, phone: str) -> tuple[str, str]:
    """The workflow id of the contact's conversation (which runs its flow) and its current
    details, once the flow waits at `ask`."""
    [found] = await find(client, f"ContactId = '{phone}' AND FlowName = 'flow'", 1)

    async def waiting() -> str | None:
        details = await current_details(client, found.id)
        return details if details.startswith("at node `ask` (question): waiting") else None

    return found.id, await wait_for(waiting, what="the run waiting at `ask`")


async def test_a_run_reads_like_the_flow(
    whatsapp: WhatsAppUser, temporal_env: WorkflowEnvironment, phone: str
):
    client = temporal_env.client
    await whatsapp.says("hola")
    workflow_id, details = await run_waiting_at_ask(client, phone)
    assert details.startswith("at node `ask` (question): waiting for a reply since ")
    assert ", timeout at " in details
    description = await client.get_workflow_handle(workflow_id).describe()
    assert await description.static_summary() == f"whatsapp_cloud conversation with {phone}"

    await whatsapp.says("Ana")
    await whatsapp.wait_received(3)
    recorded = await wait_for(lambda: finished_summaries(client, workflow_id), what="the end")
    assert recorded[:4] == [
        f"whatsapp_cloud conversation with {phone}",  # the conversation's start
        "open the conversation and store inbound text",
        f"start flow “flow” v1 for {phone} on whatsapp_cloud · bot “test bot”, then "
        "`welcome` (message): send “¡Bienvenido a la tienda! Te ayudamos con tu pedido hoy…”",
        "`ask` (question): send “¿Cómo te llamas?”",
    ]
    silence = [s for s in recorded if s.startswith("the contact's silence, checked at ")]
    assert len(silence) == 1  # one timer: the answer moved its deadline
    # the answer is stored with the reply to it
    # and the run's end with the last node's send (it only sends, and no edge leaves it)
    assert (
        "store inbound text “Ana”, then `thanks` (message): send “Gracias, Ana”, "
        "then store the run's end: completed"
    ) in recorded
    details = await current_details(client, workflow_id)
    assert details.startswith("bot “test bot”: waiting for the contact's next message")


async def finished_summaries(client: Client, workflow_id: str) -> list[str] | None:
    recorded = await summaries(client, workflow_id)
    ended = any(s.endswith("store the run's end: completed") for s in recorded)
    return recorded if ended else None


async def test_a_bot_with_sensitive_data_shows_no_message_text(
    api: httpx.AsyncClient,
    meta: FakeMeta,
    db_engine: AsyncEngine,
    test_settings: Settings,
    temporal_env: WorkflowEnvironment,
    phone: str,
):
    channel_id, phone_number_id = await make_whatsapp_bot(db_engine, test_settings, MENU)
    async with db_engine.begin() as connection:
        channel = await connection.scalar(select(Channel.bot_id).where(Channel.id == channel_id))
        await connection.execute(update(Bot).where(Bot.id == channel).values(sensitive_data=True))
    user = WhatsAppUser(api, meta, channel_id, phone_number_id, wa_id=phone)
    await user.says("mi DNI es 12345678Z")
    await run_waiting_at_ask(temporal_env.client, phone)
    executions = await find(temporal_env.client, f"ContactId = '{phone}'", 1)
    recorded = [s for e in executions for s in await summaries(temporal_env.client, e.id)]
    assert "`ask` (question): send (text hidden: sensitive data)" in recorded
    assert not [s for s in recorded if "12345678Z" in s or "Bienvenido" in s or "llamas" in s]


async def test_the_conversation_command_shows_state_messages_runs_and_links(
    whatsapp: WhatsAppUser,
    test_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    temporal_env: WorkflowEnvironment,
    phone: str,
):
    await whatsapp.says("hola")
    await run_waiting_at_ask(temporal_env.client, phone)
    url = test_settings.database_url or ""

    typed = f"+34 {phone[2:5]} {phone[5:8]} {phone[8:]}"  # as people write it
    assert await show_conversation(test_settings, url, typed, None) == 0
    shown = capsys.readouterr().out
    assert f"Conversation with {phone} (Ana) · bot “test bot” · whatsapp_cloud channel" in shown
    assert "  State:    active; last message " in shown
    assert "  Now:      at node `ask` (question): waiting for a reply since " in shown
    assert "← hola" in shown and "→ ¿Cómo te llamas?  [sent]" in shown
    assert "“flow” v1 · running, last step `welcome`" in shown
    assert "now: at node `ask` (question): waiting for a reply since " in shown
    assert "/namespaces/default/workflows/conversation-" in shown
    assert shown.rstrip().endswith(f"workflows?query=ContactId%20%3D%20%27{phone}%27")

    assert await show_conversation(test_settings, url, phone, "another bot") == 1
    assert capsys.readouterr().err == (
        f"error: no conversation with contact '{phone}' with bot 'another bot'\n"
    )


def sample(text: str, name: str, **labels: str) -> float:
    """One sample of a Prometheus text page (0 when absent)."""
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and labels.items() <= s.labels.items()
    )


async def test_api_metrics_count_webhooks_by_outcome_and_route_template(whatsapp: WhatsAppUser):
    route = "/channels/whatsapp/{channel_id}/webhook"
    refused = {"channel": "whatsapp_cloud", "outcome": "bad_signature"}
    before = (await whatsapp.api.get("/metrics")).text
    assert (await whatsapp.post({"entry": []}, signature=None)).status_code == 401
    await whatsapp.says("hola")

    after = await whatsapp.api.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain; version=")
    name = "botbuilder_webhook_requests_total"
    assert sample(after.text, name, **refused) == sample(before, name, **refused) + 1
    requests = "botbuilder_api_requests_total"
    ok = {"route": route, "method": "POST", "status": "200"}
    assert sample(after.text, requests, **ok) == sample(before, requests, **ok) + 1
    assert not [line for line in after.text.splitlines() if whatsapp.channel_id in line]
    latency = "botbuilder_ingress_seconds_count"
    channel = {"channel": "whatsapp_cloud"}
    assert sample(after.text, latency, **channel) == sample(before, latency, **channel) + 1


async def test_worker_metrics_count_messages_runs_and_node_errors(
    temporal_env: WorkflowEnvironment,
    test_settings: Settings,
    db_engine: AsyncEngine,
    clean_db: None,
):
    port = free_port()
    settings = test_settings.model_copy(
        update={"task_queue": "operators-metrics", "worker_metrics_port": port}
    )
    client = await connect_temporal(settings, metrics_runtime(settings))
    broken = chain(
        node("hello", "message", content="Un momento"),
        node("call", "api", apiUrl="http://127.0.0.1:9/down", retryAttempts=0),
    )  # the call fails; with no `error` edge the run ends there
    bot, channel_id = await make_bot(db_engine, broken)
    worker = build_worker(client, settings, make_session_factory(db_engine))
    metrics = f"http://127.0.0.1:{port}/metrics"
    async with worker, api_client(settings) as api, httpx.AsyncClient() as scraper:
        chat = WebChat(api, channel_id, "metrics-visitor")
        await chat.say("hola")

        async def counted() -> str | None:
            page = (await scraper.get(metrics)).text
            ended = sample(page, "botbuilder_flow_runs_finished_total", status="completed")
            return page if ended == 1 else None

        page = await wait_for(counted, what="the run's end in the worker's metrics")
    assert sample(page, "botbuilder_messages_in_total", channel="web") == 1
    assert sample(page, "botbuilder_messages_out_total", channel="web") == 1
    assert sample(page, "botbuilder_flow_runs_started_total") == 1
    assert sample(page, "botbuilder_node_errors_total", node_type="api") == 1
    assert sample(page, "temporal_workflow_task_schedule_to_start_latency_count") > 0
    running = f"BotId = '{bot}' AND ExecutionStatus = 'Running'"
    async for execution in client.list_workflows(running):
        await client.get_workflow_handle(execution.id).terminate("test finished")
