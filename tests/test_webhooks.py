"""Outgoing webhooks end to end: a bot's facts reach a receiver on 127.0.0.1, signed per the
Standard Webhooks specification, logged attempt by attempt, and manageable through GraphQL."""

from __future__ import annotations

import base64
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from models.settings import Settings
from stack.webhook_listener import WebhookListener
from tests.api_fixtures import CONNECT, CREATE_BOT, CREATE_FLOW, PUBLISH, SET_DEFAULT
from tests.api_fixtures import greeting_flow as flow_definition
from tests.graphql_client import GraphQL, sign_up
from tests.helpers import WebChat, api_client, wait_for
from tests.test_durability import TASK_QUEUE, start_worker
from tests.webhook_receiver import Receiver

CREATE = """mutation($input: WebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { secret endpoint { id url events active disabled } } }"""
DELIVERIES = """query($id: ID!) { webhookDeliveries(endpointId: $id) {
  id webhookId eventType status attemptCount payload
  attempts { statusCode durationMs responseExcerpt error attemptedAt } } }"""
STATS = """query($id: ID!) { webhookEndpoint(id: $id) { disabled disabledReason temporalUrl
  stats { total succeeded failed pending averageLatencyMs lastSuccessAt lastError } } }"""
SEND_TEST = "mutation($id: ID!) { sendTestWebhook(endpointId: $id) { id } }"
REDELIVER = "mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { status attemptCount } }"
CONVERSATION_EVENTS = {
    "bot.connected",
    "message.received",
    "conversation.started",
    "flow.started",
    "message.sent",
    "flow.completed",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


async def endpoint_for(owner: GraphQL, receiver: Receiver, **input: Any) -> str:
    """A new endpoint POSTing to the receiver, which now knows its secret."""
    created = await owner(CREATE, input={"url": receiver.url, "events": ["*"], **input})
    receiver.secrets.append(created["createWebhookEndpoint"]["secret"])
    return created["createWebhookEndpoint"]["endpoint"]["id"]


async def chatting_bot(owner: GraphQL) -> tuple[str, str]:
    """A bot with a published default greeting flow and a web channel: (bot, channel) ids."""
    bot = (await owner(CREATE_BOT, name="Support"))["createBot"]["id"]
    flow = (
        await owner(
            CREATE_FLOW, bot=bot, input={"name": "Hi", "definition": flow_definition("Hello there")}
        )
    )["createFlow"]["id"]
    await owner(PUBLISH, id=flow, message="v1")
    await owner(SET_DEFAULT, bot=bot, flow=flow)
    web = (await owner(CONNECT, bot=bot, input={"kind": "WEB"}))["connectChannel"]["id"]
    return bot, web


async def received_types(receiver: Receiver, wanted: set[str]) -> dict[str, dict[str, Any]]:
    async def arrived() -> dict[str, dict[str, Any]] | None:
        found = {event["body"]["type"]: event for event in receiver.events()}
        return found if wanted <= set(found) else None

    return await wait_for(arrived, what=f"webhooks {sorted(wanted)}")


@pytest.mark.record_history
async def test_a_conversation_reaches_the_receiver_signed_and_logged(
    api: httpx.AsyncClient, receiver: Receiver, temporal_env: WorkflowEnvironment
) -> None:
    owner, _ = await sign_up(api)
    endpoint = await endpoint_for(owner, receiver)
    bot, web = await chatting_bot(owner)

    await WebChat(api, web, "visitor-1").say("hello")
    events = await received_types(receiver, CONVERSATION_EVENTS)

    assert all(event["valid"] == [True] for event in receiver.events())
    received = events["message.received"]["body"]
    assert received["data"]["text"] == "hello"
    assert received["data"]["bot_id"] == bot
    assert received["data"]["channel_id"] == web
    assert (received["data"]["direction"], received["data"]["status"]) == ("inbound", "received")
    assert received["data"]["error"] is None and received["data"]["contact_id"]
    sent = [e["body"]["data"] for e in receiver.events() if e["body"]["type"] == "message.sent"]
    assert sorted(data["text"] for data in sent) == ["Bye!", "Hello there"]
    assert {(data["direction"], data["status"]) for data in sent} == {("outbound", "sent")}
    assert len({data["message_id"] for data in sent}) == 2
    types = [event["body"]["type"] for event in receiver.events()]
    assert types.count("message.received") == 1 and types.count("message.sent") == 2
    assert events["bot.connected"]["body"]["data"]["channel_id"] == web
    conversation = received["data"]["conversation_id"]
    assert events["flow.completed"]["body"]["data"]["conversation_id"] == conversation
    started = events["conversation.started"]["body"]["data"]
    assert started == {
        "bot_id": bot,
        "conversation_id": conversation,
        "channel_id": web,
        "contact_id": received["data"]["contact_id"],
        "status": "active",
    }
    run_started = events["flow.started"]["body"]["data"]
    run_ended = events["flow.completed"]["body"]["data"]
    assert (run_started["status"], run_ended["status"]) == ("running", "completed")
    assert run_started["flow_run_id"] and run_ended["error"] is None
    for same in ("bot_id", "conversation_id", "flow_run_id", "flow_id", "flow_version_id"):
        assert run_started[same] == run_ended[same]
    assert events["message.received"]["id"].startswith("msg_")

    async def all_logged() -> list[dict[str, Any]] | None:
        log = (await owner(DELIVERIES, id=endpoint))["webhookDeliveries"]
        done = len(log) >= len(receiver.events()) and all(d["status"] != "pending" for d in log)
        return log if done else None

    log = await wait_for(all_logged, what="every delivery logged")
    assert {d["webhookId"] for d in log} == {e["id"] for e in receiver.events()}
    for delivery in log:
        assert delivery["status"] == "succeeded", delivery
        assert [a["statusCode"] for a in delivery["attempts"]] == [200]
        assert delivery["attempts"][0]["responseExcerpt"] == "answer 200"
    state = (await owner(STATS, id=endpoint))["webhookEndpoint"]
    assert state["temporalUrl"].endswith(f"/workflows/webhook-endpoint-{endpoint}")

    async def in_temporal_ui() -> list[str]:
        query = f"WebhookEndpointId = '{endpoint}'"
        return [e.id async for e in temporal_env.client.list_workflows(query)]

    found = await wait_for(in_temporal_ui, what="the delivery workflow by its search attribute")
    assert found == [f"webhook-endpoint-{endpoint}"]
    stats = state["stats"]
    assert stats["total"] == stats["succeeded"] == len(log)
    assert stats["failed"] == 0 and stats["lastSuccessAt"] is not None


async def test_a_receiver_failing_once_gets_the_same_delivery_again(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    owner, _ = await sign_up(api)
    receiver.script = [500]
    endpoint = await endpoint_for(owner, receiver, events=["payment.completed"])

    await owner(SEND_TEST, id=endpoint)

    async def retried() -> list[dict[str, Any]] | None:
        log = (await owner(DELIVERIES, id=endpoint))["webhookDeliveries"]
        return log if log and log[0]["status"] == "succeeded" else None

    delivery = (await wait_for(retried, timeout=30, what="the retry after 5 s"))[0]
    assert [a["statusCode"] for a in delivery["attempts"]] == [500, 200]
    assert delivery["attempts"][0]["error"] == "the receiver answered 500"
    assert [e["id"] for e in receiver.events()] == [delivery["webhookId"]] * 2
    assert all(e["valid"] == [True] for e in receiver.events())


async def test_410_disables_the_endpoint_at_once(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    owner, _ = await sign_up(api)
    receiver.script = [410]
    endpoint = await endpoint_for(owner, receiver, events=["payment.completed"])
    watcher = Receiver()  # another endpoint of the organization hears about it
    try:
        await endpoint_for(owner, watcher, events=["webhook.endpoint_disabled"])
        await owner(SEND_TEST, id=endpoint)

        told = await received_types(watcher, {"webhook.endpoint_disabled"})
    finally:
        watcher.close()
    assert told["webhook.endpoint_disabled"]["body"]["data"]["endpoint_id"] == endpoint
    state = (await owner(STATS, id=endpoint))["webhookEndpoint"]
    assert state["disabled"] is True
    assert state["disabledReason"] == "the receiver answered 410 Gone"
    assert state["stats"]["failed"] == 1
    refused = await owner.error(SEND_TEST, id=endpoint)
    assert refused["code"] == "BAD_USER_INPUT" and "disabled" in refused["message"]
    assert len(receiver.events()) == 1

    reactivate = (
        "mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: {active: true}) { disabled } }"
    )
    assert (await owner(reactivate, id=endpoint))["updateWebhookEndpoint"]["disabled"] is False
    again = await owner(
        "mutation($id: ID!, $since: DateTime!) { "
        "redeliverFailedWebhooks(endpointId: $id, since: $since) }",
        id=endpoint,
        since="2020-01-01T00:00:00Z",
    )
    assert again["redeliverFailedWebhooks"] == 1
    await wait_for(lambda: _count(receiver.events(), 2), what="the failed delivery again")
    assert receiver.events()[1]["id"] == receiver.events()[0]["id"]


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/x",
        "http://192.168.1.10/x",
        "ftp://example.com/x",
        "http://127.0.0.2:9/x",
    ],
)
async def test_private_and_non_http_urls_are_refused(api: httpx.AsyncClient, url: str) -> None:
    owner, _ = await sign_up(api)

    error = await owner.error(CREATE, input={"url": url, "events": ["*"]})

    assert error["code"] == "BAD_USER_INPUT", error
    assert (await owner("{ webhookEndpoints { id } }"))["webhookEndpoints"] == []


async def test_rotation_signs_with_both_secrets_during_the_grace_period(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    owner, _ = await sign_up(api)
    endpoint = await endpoint_for(owner, receiver, events=["payment.completed"])
    rotated = await owner(
        "mutation($id: ID!) { rotateWebhookSecret(id: $id, graceHours: 1) { secret } }",
        id=endpoint,
    )
    new_secret = rotated["rotateWebhookSecret"]["secret"]
    receiver.secrets.append(new_secret)
    assert new_secret.startswith("whsec_") and new_secret != receiver.secrets[0]

    await owner(SEND_TEST, id=endpoint)

    event = (await received_types(receiver, {"webhook.test"}))["webhook.test"]
    assert event["valid"] == [True, True]
    assert len(event["headers"]["webhook-signature"].split(" ")) == 2


async def test_a_delivery_cut_off_by_a_killed_worker_arrives_with_the_same_id(
    test_settings: Settings,
    temporal_env: WorkflowEnvironment,
    clean_db: None,
    receiver: Receiver,
) -> None:
    settings = test_settings.model_copy(update={"task_queue": TASK_QUEUE})
    receiver.hang.set()  # the first POST hangs: the worker is killed while waiting for it
    first = start_worker(settings)
    second: subprocess.Popen[bytes] | None = None
    try:
        async with api_client(settings) as api:
            owner, _ = await sign_up(api)
            endpoint = await endpoint_for(owner, receiver, events=["payment.completed"])
            await owner(SEND_TEST, id=endpoint)
            await wait_for(
                lambda: _some(receiver.events()), timeout=30, what="the first POST to arrive"
            )
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            receiver.hang.clear()
            receiver.released.set()
            second = start_worker(settings)

            async def delivered() -> list[dict[str, Any]] | None:
                log = (await owner(DELIVERIES, id=endpoint))["webhookDeliveries"]
                return log if log and log[0]["status"] == "succeeded" else None

            delivery = (await wait_for(delivered, timeout=60, what="the redelivery"))[0]
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=20)
    assert [e["id"] for e in receiver.events()] == [delivery["webhookId"]] * 2
    assert all(e["valid"] == [True] for e in receiver.events())
    assert [a["statusCode"] for a in delivery["attempts"]] == [200]


async def _some(items: list[Any]) -> bool:
    return bool(items)


async def test_endpoints_are_managed_and_deliveries_redelivered(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    owner, _ = await sign_up(api)
    endpoint = await endpoint_for(owner, receiver, events=["payment.completed"])
    bad_events = await owner.error(CREATE, input={"url": receiver.url, "events": ["nope"]})
    bad_header = await owner.error(
        CREATE, input={"url": receiver.url, "events": ["*"], "headers": {"webhook-id": "x"}}
    )
    updated = await owner(
        """mutation($id: ID!, $input: WebhookEndpointUpdate!) {
           updateWebhookEndpoint(id: $id, input: $input) { events description headers } }""",
        id=endpoint,
        input={
            "events": ["message.failed", "flow.failed"],
            "description": "CRM",
            "headers": {"X-Tenant": "acme"},
        },
    )
    delivery = (await owner(SEND_TEST, id=endpoint))["sendTestWebhook"]["id"]
    first = await received_types(receiver, {"webhook.test"})

    redelivered = await owner(REDELIVER, id=delivery)
    await wait_for(lambda: _count(receiver.events(), 2), what="the redelivery")
    count = await owner(
        "mutation($id: ID!, $since: DateTime!) { "
        "redeliverFailedWebhooks(endpointId: $id, since: $since) }",
        id=endpoint,
        since="2020-01-01T00:00:00Z",
    )
    deleted = await owner("mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }", id=endpoint)

    assert bad_events["code"] == bad_header["code"] == "BAD_USER_INPUT"
    assert "unknown webhook event types: nope" in bad_events["message"]
    assert updated["updateWebhookEndpoint"] == {
        "events": ["flow.failed", "message.failed"],
        "description": "CRM",
        "headers": {"X-Tenant": "acme"},
    }
    assert redelivered["redeliverWebhook"] == {"status": "pending", "attemptCount": 0}
    second = receiver.events()[1]
    assert second["id"] == first["webhook.test"]["id"]
    assert second["headers"]["x-tenant"] == "acme"
    assert count["redeliverFailedWebhooks"] == 0  # nothing failed
    assert deleted["deleteWebhookEndpoint"] == endpoint
    assert (await owner("{ webhookEndpoints { id } }"))["webhookEndpoints"] == []


async def test_a_redelivery_asked_for_while_an_attempt_is_in_flight_still_happens(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    owner, _ = await sign_up(api)
    endpoint = await endpoint_for(owner, receiver, events=["payment.completed"])
    receiver.gate.clear()  # the receiver holds its answer to the first attempt

    delivery = (await owner(SEND_TEST, id=endpoint))["sendTestWebhook"]["id"]
    await wait_for(lambda: _count(receiver.events(), 1), what="the first attempt")
    redelivered = await owner(REDELIVER, id=delivery)
    receiver.gate.set()
    await wait_for(lambda: _count(receiver.events(), 2), what="the redelivery")

    async def settled() -> dict[str, Any] | None:
        log = (await owner(DELIVERIES, id=endpoint))["webhookDeliveries"]
        return log[0] if len(log[0]["attempts"]) == 2 and log[0]["status"] != "pending" else None

    logged = await wait_for(settled, what="both attempts logged")
    assert redelivered["redeliverWebhook"] == {"status": "pending", "attemptCount": 0}
    assert [e["id"] for e in receiver.events()] == [logged["webhookId"]] * 2
    assert [a["statusCode"] for a in logged["attempts"]] == [200, 200]
    assert (logged["status"], logged["attemptCount"]) == ("succeeded", 1)


async def test_webhooks_listen_prints_deliveries_and_checks_signatures(
    api: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    owner, _ = await sign_up(api)
    listener = WebhookListener(0, None).start()
    try:
        created = await owner(CREATE, input={"url": listener.url, "events": ["payment.completed"]})
        listener.secret = created["createWebhookEndpoint"]["secret"]
        endpoint = created["createWebhookEndpoint"]["endpoint"]["id"]
        await owner(SEND_TEST, id=endpoint)
        await wait_for(lambda: _reached(listener, 1), what="the first delivery")
        listener.secret = "whsec_" + base64.b64encode(b"someone else's secret").decode()
        await owner(SEND_TEST, id=endpoint)
        await wait_for(lambda: _reached(listener, 2), what="the second delivery")
    finally:
        listener.stop()

    assert (listener.received, listener.invalid) == (2, 1)
    printed = capsys.readouterr().out
    assert "webhook.test  signature OK" in printed
    assert "webhook.test  SIGNATURE INVALID" in printed
    assert '"message": "a test event from BotBuilder"' in printed


async def _count(items: list[Any], wanted: int) -> bool:
    return len(items) >= wanted


async def _reached(listener: WebhookListener, wanted: int) -> bool:
    return listener.received >= wanted


async def test_an_agent_taking_over_and_closing_reports_both(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    owner, _ = await sign_up(api)
    await endpoint_for(owner, receiver, events=["conversation.handed_off", "conversation.ended"])
    _bot, web = await chatting_bot(owner)
    await WebChat(api, web, "visitor-2").say("hello")

    async def conversation() -> str | None:
        items = (await owner("{ conversations { items { id } } }"))["conversations"]["items"]
        return items[0]["id"] if items else None

    conversation_id = await wait_for(conversation, what="the conversation")
    await owner("mutation($id: ID!) { takeOverConversation(id: $id) { id } }", id=conversation_id)
    await owner("mutation($id: ID!) { closeConversation(id: $id) { id } }", id=conversation_id)

    events = await received_types(receiver, {"conversation.handed_off", "conversation.ended"})
    ended = events["conversation.ended"]["body"]["data"]
    assert ended["conversation_id"] == conversation_id and ended["status"] == "closed"
    assert events["conversation.handed_off"]["body"]["data"]["status"] == "handed_off"
    assert {e["body"]["type"] for e in receiver.events()} == set(events)
