"""The operators' view: a conversation found by the contact's phone number, readable histories."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowExecution
from temporalio.testing import WorkflowEnvironment

from models.settings import Settings
from tests.channel_chat import WhatsAppUser, make_whatsapp_bot
from tests.fake_meta import FakeMeta
from tests.helpers import chain, node, wait_for

PHONE = "34600999111"
MENU = chain(
    node(
        "welcome", "message", content="¡Bienvenido a la tienda! Te ayudamos con tu pedido hoy mismo"
    ),
    node("ask", "question", content="¿Cómo te llamas?", variable="name"),
    node("thanks", "message", content="Gracias, {{name}}"),
)


@pytest.fixture
async def whatsapp(
    api: httpx.AsyncClient, meta: FakeMeta, db_engine: AsyncEngine, test_settings: Settings
) -> WhatsAppUser:
    channel_id, phone_number_id = await make_whatsapp_bot(db_engine, test_settings, MENU)
    return WhatsAppUser(api, meta, channel_id, phone_number_id, wa_id=PHONE)


async def find(client: Client, query: str, count: int) -> list[WorkflowExecution]:
    """The executions a visibility query finds, once there are `count` of them."""

    async def found() -> list[WorkflowExecution] | None:
        executions = [execution async for execution in client.list_workflows(query)]
        return executions if len(executions) >= count else None

    return await wait_for(found, what=f"{count} workflows for {query!r}")


def attributes(execution: WorkflowExecution) -> dict[str, Any]:
    return {key.name: value for key, value in execution.typed_search_attributes}


async def test_one_search_by_phone_number_finds_the_conversation_and_its_runs(
    whatsapp: WhatsAppUser, temporal_env: WorkflowEnvironment
):
    await whatsapp.says("hola")
    await whatsapp.wait_received(2)  # the welcome and the question

    executions = await find(temporal_env.client, f"ContactId = '{PHONE}'", 2)
    by_type = {execution.workflow_type: execution for execution in executions}
    assert set(by_type) == {"Conversation", "FlowRun"}
    conversation, run = attributes(by_type["Conversation"]), attributes(by_type["FlowRun"])
    assert conversation["BotName"] == run["BotName"] == "test bot"
    assert conversation["Channel"] == "whatsapp_cloud"
    assert conversation["ConversationId"] == run["ConversationId"]
    assert conversation["ContactUuid"] == run["ContactUuid"] != PHONE
    assert run["FlowName"] == "flow" and run["FlowVersion"] == 1
    by_flow = f"ContactId = '{PHONE}' AND FlowName = 'flow' AND FlowVersion = 1"
    assert [e.id for e in await find(temporal_env.client, by_flow, 1)] == [by_type["FlowRun"].id]
