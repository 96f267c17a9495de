"""The `email` node end to end: web chat → Temporal → the org's SMTP server (aiosmtpd)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

import outbound.guard as guard
from activities import send_email
from activities.send_email import EmailSender
from flowlang.nodes import get_node_type
from flowlang.validation import validate_flow
from models.db import make_session_factory
from models.payloads.integrations import EmailRequest, EmailSent
from models.secret_box import SecretBox
from models.settings import Settings
from stack.ports import free_port
from tests.fake_run_context import FakeRunContext
from tests.fake_smtp import FakeSmtp
from tests.helpers import make_web_bot, node
from tests.integration_fixtures import (
    SECRET_KEY,
    answer_first,
    asking_flow,
    configure,
    edge,
    step_of,
)
from tests.test_outbound_guard import self_signed_localhost


@pytest.fixture(scope="module")
def fake_smtp() -> Iterator[FakeSmtp]:
    server = FakeSmtp()
    yield server
    server.close()


@pytest.fixture
def smtp(fake_smtp: FakeSmtp) -> FakeSmtp:
    fake_smtp.reset()
    return fake_smtp


def order_mail_flow() -> dict[str, Any]:
    """Ask for an address, email the order, say how it went, then keep talking."""
    mail = node(
        "mail",
        "email",
        to="{{email}}",
        cc="ventas@example.com",
        replyTo="soporte@example.com",
        subject="Pedido de {{contact.external_id}}",
        body="Hola, tu pedido está en camino.",
        html="<p>Hola, tu <b>pedido</b></p>",
        retryAttempts=2,
    )
    return asking_flow(
        ("¿Tu correo?", "email"), mail, "Te escribimos a {{email}}.", "No pudimos escribirte"
    )


def smtp_config(host: str, port: int) -> dict[str, Any]:
    return {
        "host": host,
        "port": port,
        "security": "none",
        "from_address": "bot@acme.example",
        "from_name": "Acme",
    }


async def email_bot(db_engine: AsyncEngine, smtp: FakeSmtp, host: str = "127.0.0.1") -> str:
    bot, channel = await make_web_bot(db_engine, order_mail_flow())
    await configure(db_engine, bot, "smtp", smtp_config(host, smtp.port), {})
    return channel


async def test_the_email_is_sent_and_the_conversation_goes_on(
    api: httpx.AsyncClient, db_engine: AsyncEngine, smtp: FakeSmtp
) -> None:
    chat = await answer_first(api, await email_bot(db_engine, smtp), "mail-ok", "ana@example.com")
    assert (await chat.wait_replies(3))[1:] == ["Te escribimos a ana@example.com.", "¿Algo más?"]
    [(recipients, message)] = smtp.received
    assert recipients == ["ana@example.com", "ventas@example.com"]
    assert (message["From"], message["To"], message["Cc"], message["Reply-To"]) == (
        "Acme <bot@acme.example>",
        "ana@example.com",
        "ventas@example.com",
        "soporte@example.com",
    )
    assert message["Subject"] == "Pedido de mail-ok"
    assert message.get_body(("plain",)).get_content().strip() == "Hola, tu pedido está en camino."
    assert "<b>pedido</b>" in message.get_body(("html",)).get_content()
    step = await step_of(db_engine, "mail")
    assert step.outcome == "default"
    assert step.output == {"message_id": message["Message-ID"], "refused": []}
    await chat.say("no")
    assert (await chat.wait_replies(4))[-1] == "Gracias: no"


async def test_a_temporary_refusal_is_retried(
    api: httpx.AsyncClient, db_engine: AsyncEngine, smtp: FakeSmtp
) -> None:
    smtp.fail_next("451 4.3.0 Mailbox busy, try again later")
    chat = await answer_first(
        api, await email_bot(db_engine, smtp), "mail-retry", "bea@example.com"
    )
    assert (await chat.wait_replies(3))[1] == "Te escribimos a bea@example.com."
    assert len(smtp.received) == 1 and smtp.failures == []


async def test_a_permanent_refusal_takes_the_error_edge_at_once(
    api: httpx.AsyncClient, db_engine: AsyncEngine, smtp: FakeSmtp
) -> None:
    smtp.fail_next("550 5.1.1 Mailbox unavailable", "250 never reached")
    chat = await answer_first(
        api, await email_bot(db_engine, smtp), "mail-refused", "nadie@example.com"
    )
    replies = await chat.wait_replies(3)
    assert replies[1] == (
        "No pudimos escribirte: the email was not sent: the SMTP server "
        "answered 550 5.1.1 Mailbox unavailable"
    )
    assert smtp.failures == ["250 never reached"]  # no second attempt
    await chat.say("nada")
    assert (await chat.wait_replies(4))[-1] == "Gracias: nada"
    step = await step_of(db_engine, "mail")
    assert step.outcome == "error"


async def test_a_templated_address_that_is_not_one_takes_the_error_edge(
    api: httpx.AsyncClient, db_engine: AsyncEngine, smtp: FakeSmtp
) -> None:
    chat = await answer_first(api, await email_bot(db_engine, smtp), "mail-typo", "ana at example")
    assert (await chat.wait_replies(3))[1] == (
        "No pudimos escribirte: not an email address: ana at example"
    )
    assert smtp.received == []


async def test_an_email_without_recipient_is_not_attempted() -> None:
    ctx = FakeRunContext(contact={"name": "Ana", "email": ""})
    data = {"subject": "s", "body": "b", "errorMessage": "Sin correo, {{contact.name}}"}
    assert await ctx.run_node("email", data, "mail") == "error"
    assert ctx.variables["mail"] == {
        "error": "the email has no recipient once its variables are filled in"
    }
    assert ctx.texts == ["Sin correo, Ana"] and ctx.integration_calls == []


async def test_the_contact_email_is_the_default_recipient() -> None:
    sent = EmailSent(message_id="<1@acme.example>")
    ctx = FakeRunContext(contact={"email": "ana@example.com"}, integrations=lambda *_: sent)
    assert await ctx.run_node("email", {"subject": "s", "body": "b"}, "mail") == "default"
    [(activity, request)] = ctx.integration_calls
    assert activity == "send_email" and isinstance(request, EmailRequest)
    assert request.to == ["ana@example.com"] and request.retries == 3
    assert ctx.variables["mail"] == {"message_id": "<1@acme.example>", "refused": [], "error": None}


async def test_activity_failures_are_classified(db_engine: AsyncEngine, clean_db: None) -> None:
    settings = Settings(secret_key=SECRET_KEY, outbound_allowed_hosts="127.0.0.1")
    sender = EmailSender(make_session_factory(db_engine), SecretBox(SECRET_KEY), settings)
    bot, _ = await make_web_bot(db_engine, order_mail_flow())
    request = EmailRequest(bot_id=bot, idempotency_key="k", to=["a@b.co"], subject="s", text="t")
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError, match="no smtp integration configured") as missing:
        await env.run(sender.send_email, request)
    assert missing.value.non_retryable
    await configure(db_engine, bot, "smtp", smtp_config("127.0.0.1", free_port()), {})
    with pytest.raises(ApplicationError, match=r"cannot reach 127\.0\.0\.1:") as refused:
        await env.run(sender.send_email, request)
    assert not refused.value.non_retryable


async def test_a_private_smtp_host_is_refused_and_the_node_leaves_by_error(
    api: httpx.AsyncClient, db_engine: AsyncEngine, smtp: FakeSmtp
) -> None:
    """`localhost` resolves to the fake server's loopback address, but only `127.0.0.1` as
    written is allowed: the server is never contacted and the error edge says why."""
    channel = await email_bot(db_engine, smtp, host="localhost")
    chat = await answer_first(api, channel, "mail-private", "ana@example.com")
    reply = (await chat.wait_replies(3))[1]
    assert reply.startswith(
        "No pudimos escribirte: the email was not sent: the SMTP server was not contacted: "
        "refused to connect to localhost ("
    ), reply
    assert "a loopback address" in reply
    assert smtp.received == []
    assert (await step_of(db_engine, "mail")).outcome == "error"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.2", "169.254.169.254", "10.1.2.3"])
async def test_the_activity_refuses_non_public_smtp_hosts_for_good(
    db_engine: AsyncEngine, clean_db: None, smtp: FakeSmtp, host: str
) -> None:
    settings = Settings(secret_key=SECRET_KEY, outbound_allowed_hosts="127.0.0.1")
    sender = EmailSender(make_session_factory(db_engine), SecretBox(SECRET_KEY), settings)
    bot, _ = await make_web_bot(db_engine, order_mail_flow())
    await configure(db_engine, bot, "smtp", smtp_config(host, smtp.port), {})
    request = EmailRequest(bot_id=bot, idempotency_key="k", to=["a@b.co"], subject="s", text="t")

    with pytest.raises(ApplicationError, match="was not contacted: refused to connect") as err:
        await ActivityEnvironment().run(sender.send_email, request)

    assert err.value.non_retryable
    assert smtp.received == []


@pytest.mark.parametrize(
    ("security", "option"), [("starttls", "tls_context"), ("tls", "ssl_context")]
)
async def test_tls_to_the_checked_address_still_verifies_the_host_name(
    db_engine: AsyncEngine,
    clean_db: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    security: str,
    option: str,
) -> None:
    """127.0.0.1 counted as public here: `localhost` is connected to at its checked address,
    and TLS (STARTTLS or implicit) names `localhost` and verifies its certificate."""
    cert_file, key_file = self_signed_localhost(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_file, key_file)
    names: list[str | None] = []
    server_tls.sni_callback = lambda _socket, name, _context: names.append(name)
    monkeypatch.setattr(guard, "refusal_reason", lambda address: None)
    monkeypatch.setattr(
        send_email.ssl,
        "create_default_context",
        partial(ssl.create_default_context, cafile=cert_file),
    )
    server = FakeSmtp(**{option: server_tls})
    try:
        sender = EmailSender(
            make_session_factory(db_engine), SecretBox(SECRET_KEY), Settings(secret_key=SECRET_KEY)
        )
        bot, _ = await make_web_bot(db_engine, order_mail_flow())
        config = {**smtp_config("localhost", server.port), "security": security}
        await configure(db_engine, bot, "smtp", config, {})
        request = EmailRequest(
            bot_id=bot, idempotency_key="k", to=["a@b.co"], subject="tls", text="t"
        )
        await ActivityEnvironment().run(sender.send_email, request)
    finally:
        server.close()
    [(recipients, message)] = server.received
    assert recipients == ["a@b.co"] and message["Subject"] == "tls"
    assert "localhost" in names  # (aiosmtpd's own readiness probe sends no name)


def test_literal_bad_addresses_fail_validation() -> None:
    flow = {
        "name": "f",
        "nodes": [
            node("m", "email", to="ana@example", subject="s", body="b"),
            node("n", "email", to="{{email}}", bcc="ok@example.com, @bad", subject="s", body="b"),
            node("o", "email", subject="s", body="b", cc="{{a}}, x@y.co"),
        ],
        "edges": [edge("m", "n"), edge("n", "o")],
    }
    problems = [(p.code, p.node_id, p.message) for p in validate_flow(flow)]
    assert [(code, node_id) for code, node_id, _ in problems] == [
        ("invalid_node_data", "m"),
        ("invalid_node_data", "n"),
    ]
    assert "not an email address: ana@example" in problems[0][2]
    assert "not an email address: @bad" in problems[1][2]
    with pytest.raises(ValidationError):
        get_node_type("email").parse({"subject": "s"})
