"""Incoming triggers: an integrator starts a flow for a contact with variables, or resumes a run
waiting on a `waitEvent` node; bad credentials change nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from flowlang.node_base import DEFAULT, TIMEOUT
from flowlang.nodes.wait_event import WAIT_EVENT
from tests.api_fixtures import CONNECT, CREATE_BOT, CREATE_FLOW, PUBLISH, SET_DEFAULT
from tests.fake_run_context import FakeRunContext
from tests.graphql_client import GraphQL, sign_up
from tests.helpers import WebChat, chain, node

CREATE_KEY = 'mutation { createApiKey(name: "crm") { secret } }'


async def bot_with_flow(owner: GraphQL, definition: dict[str, Any]) -> tuple[str, str]:
    """A bot whose published default flow is `definition`, on a web channel: (flow, channel)."""
    bot = (await owner(CREATE_BOT, name="Shop"))["createBot"]["id"]
    created = await owner(CREATE_FLOW, bot=bot, input={"name": "f", "definition": definition})
    flow = created["createFlow"]["id"]
    await owner(PUBLISH, id=flow, message="v1")
    await owner(SET_DEFAULT, bot=bot, flow=flow)
    web = (await owner(CONNECT, bot=bot, input={"kind": "WEB"}))["connectChannel"]["id"]
    return flow, web


def waiting_for_payment(timeout: float = 60) -> dict[str, Any]:
    return {
        "name": "pay",
        "nodes": [
            node("ask", "message", content="Pay {{amount}} please"),
            node("wait", "waitEvent", event="payment", timeout=timeout, variable="payment"),
            node("paid", "message", content="Paid {{payment.amount}} via {{payment.method}}"),
            node("late", "message", content="Too late"),
        ],
        "edges": [
            {"id": "e1", "source": "ask", "target": "wait"},
            {"id": "e2", "source": "wait", "target": "paid"},
            {"id": "e3", "source": "wait", "target": "late", "sourceHandle": "timeout"},
        ],
    }


async def test_a_trigger_starts_a_flow_for_a_contact_with_variables(
    api: httpx.AsyncClient,
) -> None:
    owner, _ = await sign_up(api)
    key = (await owner(CREATE_KEY))["createApiKey"]["secret"]
    flow, web = await bot_with_flow(
        owner, chain(node("hi", "message", content="Hola {{name}}, tu pedido {{order}}"))
    )
    body = {
        "channel_id": web,
        "contact": {"external_id": "crm-42"},
        "variables": {"name": "Ana", "order": "A-17"},
        "key": "order-A-17",
    }

    started = await api.post(
        f"/api/triggers/flows/{flow}/start", json=body, headers={"X-API-Key": key}
    )

    assert started.status_code == 202, started.text
    assert started.json()["started"] is True
    assert await WebChat(api, web, "crm-42").wait_replies(1) == ["Hola Ana, tu pedido A-17"]


@pytest.mark.parametrize(
    "headers", [{}, {"X-API-Key": "bbk_not-a-real-key"}, {"Authorization": "Bearer nonsense"}]
)
async def test_triggers_refuse_bad_credentials(
    api: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    owner, _ = await sign_up(api)
    flow, web = await bot_with_flow(owner, waiting_for_payment())
    body = {"channel_id": web, "contact": {"external_id": "x"}}

    start = await api.post(f"/api/triggers/flows/{flow}/start", json=body, headers=headers)
    event = {"channel_id": web, "contact_external_id": "x", "event": "payment"}
    sent = await api.post("/api/triggers/events", json=event, headers=headers)

    assert (start.status_code, sent.status_code) == (401, 401)
    assert start.json()["error"]["code"] == "UNAUTHENTICATED"
    assert await WebChat(api, web, "x").messages() == []


async def test_another_organizations_key_cannot_trigger(api: httpx.AsyncClient) -> None:
    owner, _ = await sign_up(api, org="Mine")
    flow, web = await bot_with_flow(owner, waiting_for_payment())
    stranger, _ = await sign_up(api, org="Theirs")
    key = (await stranger(CREATE_KEY))["createApiKey"]["secret"]
    body = {"channel_id": web, "contact": {"external_id": "x"}}

    start = await api.post(
        f"/api/triggers/flows/{flow}/start", json=body, headers={"X-API-Key": key}
    )

    assert start.status_code == 404 and start.json()["error"]["code"] == "NOT_FOUND"
    assert await WebChat(api, web, "x").messages() == []


async def buyer_asked_to_pay(
    api: httpx.AsyncClient, key: str, flow: str, web: str, amount: int
) -> tuple[WebChat, dict[str, Any]]:
    """The flow started for contact "buyer", who was asked to pay; the event paying it."""
    chat = WebChat(api, web, "buyer")
    start = {
        "channel_id": web,
        "contact": {"external_id": "buyer"},
        "variables": {"amount": amount},
    }
    await api.post(f"/api/triggers/flows/{flow}/start", json=start, headers={"X-API-Key": key})
    assert await chat.wait_replies(1) == [f"Pay {amount} please"]
    event = {
        "channel_id": web,
        "contact_external_id": "buyer",
        "event": "payment",
        "data": {"amount": amount, "method": "card"},
    }
    return chat, event


@pytest.mark.record_history
async def test_an_event_resumes_the_run_waiting_for_it(api: httpx.AsyncClient) -> None:
    owner, _ = await sign_up(api)
    key = (await owner(CREATE_KEY))["createApiKey"]["secret"]
    flow, web = await bot_with_flow(owner, waiting_for_payment())
    chat, event = await buyer_asked_to_pay(api, key, flow, web, 10)

    sent = await api.post("/api/triggers/events", json=event, headers={"X-API-Key": key})

    assert sent.status_code == 202, sent.text
    assert await chat.wait_replies(2) == ["Pay 10 please", "Paid 10 via card"]
    nobody = {**event, "contact_external_id": "nobody"}
    refused = await api.post("/api/triggers/events", json=nobody, headers={"X-API-Key": key})
    assert refused.status_code == 409  # no conversation, so no run waits for it
    assert refused.json()["error"]["code"] == "CONFLICT"


async def test_a_wait_without_its_event_leaves_by_the_timeout_edge(api: httpx.AsyncClient) -> None:
    owner, _ = await sign_up(api)
    _flow, web = await bot_with_flow(owner, waiting_for_payment(timeout=1))
    chat = WebChat(api, web, "slow")

    await chat.say("hi")

    assert await chat.wait_replies(2) == ["Pay  please", "Too late"]


async def test_wait_event_node_takes_the_event_or_times_out() -> None:
    data = WAIT_EVENT.parse({"event": "approval", "timeout": 30, "variable": "decision"})
    approved = FakeRunContext(events={"approval": {"ok": True}})
    silent = FakeRunContext()

    assert await WAIT_EVENT.run(approved, data) == DEFAULT
    assert approved.variables["decision"] == {"ok": True}
    assert await WAIT_EVENT.run(silent, data) == TIMEOUT
    assert "decision" not in silent.variables
