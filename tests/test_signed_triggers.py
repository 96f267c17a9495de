"""Incoming triggers signed with a flow's own `whsec_` secret (Standard Webhooks) instead of an
API key: a good signature runs once, and a bad one, a stale timestamp or a replayed id runs
nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx

from tests.api_fixtures import CREATE_FLOW, PUBLISH
from tests.graphql_client import GraphQL, sign_up
from tests.helpers import WebChat, chain, node
from tests.test_triggers import CREATE_KEY, bot_with_flow, buyer_asked_to_pay, waiting_for_payment

ROTATE = """mutation($flow: ID!) { rotateFlowTriggerSecret(flowId: $flow) {
  flowId createdAt secret } }"""
CREATED_AT = "query($flow: ID!) { flowTriggerSecretCreatedAt(flowId: $flow) }"
DELETE = "mutation($flow: ID!) { deleteFlowTriggerSecret(flowId: $flow) }"


def signed(
    secret: str, body: dict[str, Any], msg_id: str | None = None, at: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body's bytes and Standard Webhooks headers, signed here independently of the server."""
    raw = json.dumps(body).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    stamp = str(int(at if at is not None else time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{stamp}.".encode() + raw, hashlib.sha256).digest()
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }
    return raw, headers


async def secret_of(owner: GraphQL, flow: str) -> str:
    created = (await owner(ROTATE, flow=flow))["rotateFlowTriggerSecret"]
    assert created["flowId"] == flow and created["secret"].startswith("whsec_")
    return created["secret"]


async def test_a_signed_request_starts_the_flow_once(api: httpx.AsyncClient) -> None:
    owner, _ = await sign_up(api)
    flow, web = await bot_with_flow(owner, chain(node("hi", "message", content="Hola {{name}}")))
    assert (await owner(CREATED_AT, flow=flow))["flowTriggerSecretCreatedAt"] is None
    secret = await secret_of(owner, flow)
    url = f"/api/triggers/flows/{flow}/start"

    def start(contact: str) -> dict[str, Any]:
        return {
            "channel_id": web,
            "contact": {"external_id": contact},
            "variables": {"name": "Ana"},
        }

    raw, headers = signed(secret, start("ana"))
    accepted = await api.post(url, content=raw, headers=headers)
    replayed = await api.post(url, content=raw, headers=headers)

    assert accepted.status_code == 202, accepted.text
    assert await WebChat(api, web, "ana").wait_replies(1) == ["Hola Ana"]
    assert replayed.status_code == 409
    assert "already accepted" in replayed.json()["error"]["message"]
    assert (await owner(CREATED_AT, flow=flow))["flowTriggerSecretCreatedAt"] is not None

    refusals = {}
    raw, headers = signed(secret, start("bad"))
    refusals["tampered body"] = await api.post(
        url, content=raw.replace(b"Ana", b"Eve"), headers=headers
    )
    raw, headers = signed(secret, start("stale"), at=time.time() - 301)
    refusals["stale timestamp"] = await api.post(url, content=raw, headers=headers)
    raw, headers = signed(secret, start("future"), at=time.time() + 301)
    refusals["future timestamp"] = await api.post(url, content=raw, headers=headers)
    other = "whsec_" + base64.b64encode(b"not the flow's secret bytes!").decode()
    raw, headers = signed(other, start("wrong"))
    refusals["another secret"] = await api.post(url, content=raw, headers=headers)
    raw, headers = signed(secret, start("unsigned"))
    del headers["webhook-timestamp"]
    refusals["missing header"] = await api.post(url, content=raw, headers=headers)

    assert {what: r.status_code for what, r in refusals.items()} == dict.fromkeys(refusals, 401)
    assert all(r.json()["error"]["code"] == "UNAUTHENTICATED" for r in refusals.values())
    for contact in ("bad", "stale", "future", "wrong", "unsigned"):
        assert await WebChat(api, web, contact).messages() == []


async def test_a_rotated_or_deleted_secret_no_longer_signs(api: httpx.AsyncClient) -> None:
    owner, _ = await sign_up(api)
    flow, web = await bot_with_flow(owner, chain(node("hi", "message", content="Hi")))
    old = await secret_of(owner, flow)
    new = await secret_of(owner, flow)
    url = f"/api/triggers/flows/{flow}/start"
    body = {"channel_id": web, "contact": {"external_id": "c"}}

    raw, headers = signed(old, body)
    with_old = await api.post(url, content=raw, headers=headers)
    raw, headers = signed(new, body)
    with_new = await api.post(url, content=raw, headers=headers)
    assert (await owner(DELETE, flow=flow))["deleteFlowTriggerSecret"] is True
    raw, headers = signed(new, {**body, "contact": {"external_id": "d"}})
    after_delete = await api.post(url, content=raw, headers=headers)
    stranger, _ = await sign_up(api, org="Theirs")
    foreign = await stranger.error(ROTATE, flow=flow)

    assert (with_old.status_code, with_new.status_code, after_delete.status_code) == (
        401,
        202,
        401,
    )
    assert foreign["code"] == "NOT_FOUND"


async def test_a_signed_event_resumes_a_run_of_its_flow_only(api: httpx.AsyncClient) -> None:
    owner, _ = await sign_up(api)
    key = (await owner(CREATE_KEY))["createApiKey"]["secret"]
    flow, web = await bot_with_flow(owner, waiting_for_payment())
    bot = (await owner("{ bots { id } }"))["bots"][0]["id"]
    second = {"name": "other", "definition": waiting_for_payment()}
    other_flow = (await owner(CREATE_FLOW, bot=bot, input=second))["createFlow"]["id"]
    await owner(PUBLISH, id=other_flow, message="v1")
    secret, other_secret = await secret_of(owner, flow), await secret_of(owner, other_flow)
    early_event = {"channel_id": web, "contact_external_id": "buyer", "event": "payment"}
    raw, headers = signed(secret, {**early_event, "data": {"amount": 5, "method": "card"}})
    url = f"/api/triggers/flows/{flow}/events"
    too_early = await api.post(url, content=raw, headers=headers)  # no run waits for it yet
    chat, event = await buyer_asked_to_pay(api, key, flow, web, 5)

    wrong_raw, wrong_headers = signed(other_secret, event)
    wrong_flow = await api.post(
        f"/api/triggers/flows/{other_flow}/events", content=wrong_raw, headers=wrong_headers
    )
    retried = await api.post(url, content=raw, headers=headers)  # the sender's retry, same id
    replayed = await api.post(url, content=raw, headers=headers)

    assert too_early.status_code == 409
    assert "no flow is running" in too_early.json()["error"]["message"]
    assert wrong_flow.status_code == 409  # the contact's run is of the first flow
    assert "not the one running" in wrong_flow.json()["error"]["message"]
    assert retried.status_code == 202, retried.text
    assert await chat.wait_replies(2) == ["Pay 5 please", "Paid 5 via card"]
    assert replayed.status_code == 409
    assert "already accepted" in replayed.json()["error"]["message"]
