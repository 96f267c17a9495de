"""The `payment` node end to end: GraphQL setup → web chat → Temporal → fake Stripe → a signed
Stripe webhook → the flow goes on by `paid` or `failed`."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.create_payment import PaymentCreator
from flowlang.nodes import get_node_type
from models.bot_tables import Bot, Channel
from models.db import make_session_factory
from models.integration_tables import Payment
from models.payloads.integrations import PaymentExpiry, PaymentLink, PaymentOutcome, PaymentRequest
from models.secret_box import SecretBox
from models.settings import Settings
from tests.api_fixtures import CONNECT, CREATE_BOT, CREATE_FLOW, PUBLISH, SET_DEFAULT
from tests.channel_chat import WhatsAppUser, make_whatsapp_bot
from tests.fake_meta import FakeMeta
from tests.fake_run_context import FakeRunContext
from tests.fake_stripe import FakeStripe
from tests.graphql_client import GraphQL, sign_up
from tests.helpers import WebChat, api_client, make_web_bot, node, wait_for
from tests.integration_fixtures import configure, edge
from tests.test_durability import TASK_QUEUE as DURABILITY_QUEUE
from tests.test_durability import start_worker
from tests.webhook_receiver import Receiver

SECRET_KEY, WEBHOOK_SECRET = "sk_test_acme123", "whsec_acmeSigningSecret"
PAYMENTS = """query($bot: ID!) { payments(botId: $bot) { id amount currency description status
  stripeSessionId stripePaymentIntentId url contactId flowRunId settledAt } }"""


@pytest.fixture
def stripe_api(fake_stripe: FakeStripe) -> FakeStripe:
    fake_stripe.reset()
    fake_stripe.keys.add(SECRET_KEY)
    return fake_stripe


def checkout_flow() -> dict[str, Any]:
    """Ask to pay 19.99 €, say how it went by each handle, then keep talking."""
    outcomes = {
        "paid": "¡Pago recibido!",
        "failed": "El pago no se completó ({{pay.status}}).",
        "timeout": "Se acabó el tiempo.",
        "error": "No se pudo cobrar: {{pay.error}}",
    }
    nodes = [
        node(
            "pay",
            "payment",
            amount=1999,
            currency="EUR",
            retryAttempts=2,
            description="Pedido de {{contact.external_id}}",
            message="Paga tu pedido aquí:",
        ),
        *(node(handle, "message", content=text) for handle, text in outcomes.items()),
        node("more", "question", content="¿Algo más?", variable="more"),
        node("bye", "message", content="Gracias: {{more}}"),
    ]
    edges = [edge("pay", handle, handle) for handle in outcomes]
    edges += [edge(handle, "more") for handle in outcomes] + [edge("more", "bye")]
    return {"name": "checkout", "nodes": nodes, "edges": edges}


class Shop:
    """An organization set up over GraphQL: Stripe configured, a web bot asking for payment."""

    def __init__(self, api: httpx.AsyncClient, owner: GraphQL, org: str, bot: str, web: str):
        self.api, self.owner, self.org, self.bot, self.web = api, owner, org, bot, web

    async def webhook(self, payload: bytes, signature: str) -> httpx.Response:
        return await self.api.post(
            f"/webhooks/stripe/{self.org}", content=payload, headers={"Stripe-Signature": signature}
        )

    async def payments(self) -> list[dict[str, Any]]:
        return (await self.owner(PAYMENTS, bot=self.bot))["payments"]


async def open_shop(api: httpx.AsyncClient) -> Shop:
    owner, payload = await sign_up(api, org="Shop")
    await owner(
        "mutation($s: JSON) { setIntegration(kind: STRIPE, config: {success_url: "
        '"https://shop.example/thanks"}, secrets: $s) { kind } }',
        s={"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET},
    )
    bot = (await owner(CREATE_BOT, name="Shop bot"))["createBot"]["id"]
    web = (await owner(CONNECT, bot=bot, input={"kind": "WEB"}))["connectChannel"]["id"]
    flow = (
        await owner(CREATE_FLOW, bot=bot, input={"name": "checkout", "definition": checkout_flow()})
    )["createFlow"]["id"]
    await owner(PUBLISH, id=flow, message="v1")
    await owner(SET_DEFAULT, bot=bot, flow=flow)
    return Shop(api, owner, payload["member"]["organization"]["id"], bot, web)


async def link_sent(shop: Shop, contact: str) -> tuple[WebChat, str]:
    """A contact who asks to pay; their chat and the Checkout Session id the link names."""
    chat = WebChat(shop.api, shop.web, contact)
    await chat.say("quiero pagar")
    [text] = await chat.wait_replies(1)
    intro, url = text.split("\n")
    assert intro == "Paga tu pedido aquí:"
    return chat, url.rsplit("/", 1)[-1]


async def test_a_paid_checkout_continues_by_paid_once(
    api: httpx.AsyncClient, stripe_api: FakeStripe
) -> None:
    shop = await open_shop(api)
    receiver = Receiver()
    subscribed = await shop.owner(
        "mutation($i: WebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }",
        i={"url": receiver.url, "events": ["payment.completed"]},
    )
    receiver.secrets.append(subscribed["createWebhookEndpoint"]["secret"])
    chat, session_id = await link_sent(shop, "buyer-1")
    [created] = stripe_api.sent
    assert (
        created["line_items[0][price_data][unit_amount]"],
        created["line_items[0][price_data][currency]"],
        created["line_items[0][price_data][product_data][name]"],
    ) == ("1999", "eur", "Pedido de buyer-1")
    [pending] = await shop.payments()
    assert (pending["status"], pending["amount"], pending["stripeSessionId"]) == (
        "PENDING",
        1999,
        session_id,
    )

    paid = {"payment_status": "paid", "status": "complete"}
    forged = stripe_api.signed_event(
        "checkout.session.completed", session_id, "whsec_notTheirs", **paid
    )
    assert (await shop.webhook(*forged)).status_code == 400
    stale = stripe_api.signed_event(
        "checkout.session.completed", session_id, WEBHOOK_SECRET, at=int(time.time()) - 600, **paid
    )
    assert (await shop.webhook(*stale)).status_code == 400  # a replay of an old delivery
    assert (await shop.payments())[0]["status"] == "PENDING"

    event = stripe_api.signed_event(
        "checkout.session.completed", session_id, WEBHOOK_SECRET, **paid
    )
    assert (await shop.webhook(*event)).status_code == 204
    assert (await chat.wait_replies(3))[1:] == ["¡Pago recibido!", "¿Algo más?"]
    [settled] = await shop.payments()
    assert settled["status"] == "PAID" and settled["settledAt"] is not None
    assert settled["contactId"] and settled["flowRunId"]

    assert (await shop.webhook(*event)).status_code == 204  # Stripe delivers it again
    await chat.say("nada")
    assert (await chat.wait_replies(4))[-1] == "Gracias: nada"
    assert await shop.payments() == [settled]

    async def reported() -> list[dict[str, Any]] | None:
        return [event["body"] for event in receiver.events()] or None

    [completed] = await wait_for(reported, what="the payment.completed webhook")
    receiver.close()
    assert completed["type"] == "payment.completed"
    assert completed["data"]["payment_id"] == settled["id"]
    assert (completed["data"]["amount"], completed["data"]["currency"]) == (1999, "eur")


async def test_a_rate_limit_is_retried_and_a_failed_payment_takes_failed(
    api: httpx.AsyncClient, stripe_api: FakeStripe
) -> None:
    stripe_api.fail_next(429)
    shop = await open_shop(api)
    chat, session_id = await link_sent(shop, "buyer-2")
    assert len(stripe_api.sent) == 1 and stripe_api.failures == []
    intent = stripe_api.sessions[session_id]["payment_intent"]
    event = stripe_api.signed_event("payment_intent.payment_failed", session_id, WEBHOOK_SECRET)
    assert (await shop.webhook(*event)).status_code == 204
    assert (await chat.wait_replies(3))[1] == "El pago no se completó (failed)."
    [failed] = await shop.payments()
    assert (failed["status"], failed["stripePaymentIntentId"]) == ("FAILED", intent)


async def test_a_refused_checkout_takes_the_error_edge_and_the_talk_goes_on(
    api: httpx.AsyncClient, stripe_api: FakeStripe
) -> None:
    stripe_api.fail_next(400, 429)
    shop = await open_shop(api)
    chat = WebChat(api, shop.web, "buyer-3")
    await chat.say("quiero pagar")
    assert (await chat.wait_replies(2)) == [
        "No se pudo cobrar: the payment could not be created: Stripe answered 400: "
        "Invalid integer: -1",
        "¿Algo más?",
    ]
    assert stripe_api.failures == [429]  # not retried
    await chat.say("no")
    assert (await chat.wait_replies(3))[-1] == "Gracias: no"


async def test_an_event_for_another_organization_changes_nothing(
    api: httpx.AsyncClient, stripe_api: FakeStripe
) -> None:
    shop = await open_shop(api)
    _chat, session_id = await link_sent(shop, "buyer-4")
    other = await open_shop(api)
    event = stripe_api.signed_event(
        "checkout.session.completed", session_id, WEBHOOK_SECRET, payment_status="paid"
    )
    assert (await other.webhook(*event)).status_code == 204  # valid for them, names no payment
    missing = await api.post(
        "/webhooks/stripe/not-an-org", content=event[0], headers={"Stripe-Signature": event[1]}
    )
    assert missing.status_code == 400
    assert (await shop.payments())[0]["status"] == "PENDING"


async def test_timeout_and_templated_amounts() -> None:
    link = get_node_type("payment")
    assert link.handles(link.parse({"priceId": "price_123"})) == [
        "paid",
        "failed",
        "timeout",
        "error",
    ]
    ctx = FakeRunContext(
        variables={"total": "250"}, payment_outcome=None, integrations=stripe_says("expired")
    )
    data = {"amount": "{{total}}", "currency": "usd", "timeoutMinutes": 5}
    assert await ctx.run_node("payment", data, "pay") == "timeout"
    [(_, request), (closing, expiry)] = ctx.integration_calls
    assert (request.amount, request.currency, request.open_minutes) == (250, "usd", 5)
    assert (closing, expiry.payment_id) == ("expire_payment", "p1")
    assert ctx.variables["pay"]["status"] == "expired"
    assert ctx.payment_waits[0][1].total_seconds() == 300

    late = FakeRunContext(payment_outcome=None, integrations=stripe_says("paid"))
    assert await late.run_node("payment", {"amount": 5, "currency": "eur"}, "pay") == "paid"

    bad = FakeRunContext(variables={"total": "12.5"}, integrations=stripe_says("paid"))
    assert await bad.run_node("payment", data, "pay") == "error"
    assert (
        bad.integration_calls == []
        and "'12.5' is not a positive whole" in (bad.variables["pay"]["error"])
    )
    for wrong in (
        {},
        {"amount": 0, "currency": "eur"},
        {"amount": 5},
        {"priceId": "x"},
        {"amount": 5, "currency": "euro"},
    ):
        with pytest.raises(ValidationError):
            link.parse(wrong)


def stripe_says(status: str) -> Callable[[str, Any], BaseModel]:
    """Answers the payment node's activities: a link, then `status` when it closes the page."""

    def answer(activity: str, _: Any) -> BaseModel:
        if activity == "expire_payment":
            return PaymentOutcome(payment_id="p1", status=status)
        return PaymentLink(payment_id="p1", url="https://checkout.example/p1", session_id="cs_1")

    return answer


async def test_closing_the_checkout_page_after_a_timeout(
    db_engine: AsyncEngine, clean_db: None, stripe_api: FakeStripe, test_settings: Settings
) -> None:
    bot, _ = await make_web_bot(db_engine, checkout_flow())
    await configure(
        db_engine, bot, "stripe", {}, {"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET}
    )
    creator = PaymentCreator(
        make_session_factory(db_engine), SecretBox(test_settings.secret_key or ""), test_settings
    )
    env = ActivityEnvironment()
    statuses = []
    for key, paid_meanwhile in (("run/1", False), ("run/2", True)):
        request = PaymentRequest(
            bot_id=bot, idempotency_key=key, run_workflow_id="run", amount=500, currency="eur"
        )
        link = await env.run(creator.create_payment, request)
        if paid_meanwhile:
            stripe_api.sessions[link.session_id].update(status="complete", payment_status="paid")
        expiry = PaymentExpiry(bot_id=bot, payment_id=link.payment_id)
        statuses.append((await env.run(creator.expire_payment, expiry)).status)
    assert statuses == ["expired", "paid"]
    assert [s["status"] for s in stripe_api.sessions.values()] == ["expired", "complete"]
    async with make_session_factory(db_engine)() as session:
        stored = (await session.scalars(select(Payment.status).order_by(Payment.created_at))).all()
    assert stored == ["expired", "paid"]


async def test_a_worker_killed_while_the_run_waits_for_payment_still_finishes(
    test_settings: Settings,
    temporal_env: WorkflowEnvironment,
    clean_db: None,
    stripe_api: FakeStripe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = test_settings.model_copy(update={"task_queue": DURABILITY_QUEUE})
    monkeypatch.setenv("BOTBUILDER_STRIPE_API_URL", stripe_api.url)
    first = start_worker(settings)
    second: subprocess.Popen[bytes] | None = None
    try:
        async with api_client(settings) as api:
            shop = await open_shop(api)
            chat, session_id = await link_sent(shop, "patient-buyer")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            event = stripe_api.signed_event(
                "checkout.session.completed", session_id, WEBHOOK_SECRET, payment_status="paid"
            )
            assert (await shop.webhook(*event)).status_code == 204  # no worker is running
            second = start_worker(settings)
            assert (await chat.wait_replies(3, timeout=60))[1] == "¡Pago recibido!"
            assert [p["status"] for p in await shop.payments()] == ["PAID"]
        assert len(stripe_api.sent) == 1
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=20)


async def test_a_payment_over_whatsapp(
    api: httpx.AsyncClient,
    meta: FakeMeta,
    db_engine: AsyncEngine,
    test_settings: Settings,
    stripe_api: FakeStripe,
) -> None:
    channel_id, phone = await make_whatsapp_bot(db_engine, test_settings, checkout_flow())
    async with make_session_factory(db_engine)() as session:
        bot = await session.scalar(
            select(Bot).join(Channel, Channel.bot_id == Bot.id).where(Channel.id == channel_id)
        )
    assert bot is not None
    await configure(
        db_engine,
        str(bot.id),
        "stripe",
        {},
        {"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET},
    )
    ana = WhatsAppUser(api, meta, channel_id, phone, wa_id="34600999888")
    await ana.says("quiero pagar")
    [link] = await ana.wait_received(1)
    session_id = link["text"]["body"].rsplit("/", 1)[-1]
    assert stripe_api.sessions[session_id]["amount_total"] == 1999
    event = stripe_api.signed_event(
        "checkout.session.completed", session_id, WEBHOOK_SECRET, payment_status="paid"
    )
    response = await api.post(
        f"/webhooks/stripe/{bot.organization_id}",
        content=event[0],
        headers={"Stripe-Signature": event[1]},
    )
    assert response.status_code == 204
    replies = await ana.wait_received(3)
    assert [m["text"]["body"] for m in replies[1:]] == ["¡Pago recibido!", "¿Algo más?"]
