"""The conversation engine end to end: web channel → Temporal workflows → PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from flowlang.templates import default_templates
from models.conversation_tables import FlowRun, FlowRunStep, Message
from models.db import make_session_factory
from tests.helpers import WebChat, make_web_bot, node, wait_for
from workflows.conversation import ConversationWorkflow
from workflows.conversation_base import conversation_workflow_id


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    return {"id": f"{source}-{target}", "source": source, "target": target, "sourceHandle": handle}


class OrderApi(BaseHTTPRequestHandler):
    """A tiny HTTP service for the api node: GET /orders/<name> answers a JSON order."""

    def do_GET(self) -> None:
        name = self.path.rsplit("/", 1)[-1]
        body = json.dumps({"total": 42, "items": [{"name": f"book for {name}"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def order_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), OrderApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.record_history
async def test_question_condition_and_variables(api: httpx.AsyncClient, db_engine: AsyncEngine):
    definition = {
        "name": "greeter",
        "nodes": [
            node("hello", "message", content="Hola 👋"),
            node("ask", "question", content="¿Cómo te llamas?", variable="name"),
            node("check", "condition", condition='name == "Ana"'),
            node("yes", "message", content="Bienvenida, {{name}}"),
            node("no", "message", content="Encantado, {{name}}"),
        ],
        "edges": [
            edge("hello", "ask"),
            edge("ask", "check"),
            edge("check", "yes", "true"),
            edge("check", "no", "false"),
        ],
    }
    _bot, channel = await make_web_bot(db_engine, definition)
    ana = WebChat(api, channel, "ana")
    await ana.say("hola")
    assert await ana.wait_replies(2) == ["Hola 👋", "¿Cómo te llamas?"]
    await ana.say("Ana")
    assert (await ana.wait_replies(3))[-1] == "Bienvenida, Ana"

    bob = WebChat(api, channel, "bob")
    await bob.say("hi")
    await bob.wait_replies(2)
    await bob.say("Bob")
    assert (await bob.wait_replies(3))[-1] == "Encantado, Bob"

    async def runs_completed() -> bool:
        async with make_session_factory(db_engine)() as session:
            runs = (await session.scalars(select(FlowRun.status))).all()
        return sorted(runs) == ["completed", "completed"]

    await wait_for(runs_completed, what="both runs to complete")
    async with make_session_factory(db_engine)() as session:
        steps = (await session.scalars(select(FlowRunStep.node_id).order_by(FlowRunStep.id))).all()
    assert steps.count("ask") == 2 and "yes" in steps and "no" in steps


@pytest.mark.record_history
async def test_duplicate_delivery_is_answered_once_and_answers_keep_their_order(
    api: httpx.AsyncClient, db_engine: AsyncEngine
):
    all_five = "{{v0}},{{v1}},{{v2}},{{v3}},{{v4}}"
    questions = [node(f"q{i}", "question", content=f"q{i}?", variable=f"v{i}") for i in range(5)]
    definition = {
        "name": "burst",
        "nodes": [*questions, node("done", "message", content=all_five)],
        "edges": [*(edge(f"q{i}", f"q{i + 1}") for i in range(4)), edge("q4", "done")],
    }
    _bot, channel = await make_web_bot(db_engine, definition)
    chat = WebChat(api, channel, "burst")
    await chat.say("start", message_id="m0")
    await chat.say("start", message_id="m0")
    await chat.wait_replies(1)
    for i in range(1, 6):  # each answer after its question (a burst: tests/test_unseen_questions)
        await chat.say(str(i), message_id=f"m{i}")
        await chat.say(str(i), message_id=f"m{i}")  # delivered twice: not the next answer
        replies = await chat.wait_replies(i + 1)
    assert replies[-1] == "1,2,3,4,5"
    inbound = [m for m in await chat.messages() if m["direction"] == "inbound"]
    assert [m["text"] for m in inbound] == ["start", "1", "2", "3", "4", "5"]
    assert replies.count("q0?") == 1


@pytest.mark.record_history
async def test_every_node_type_runs(
    api: httpx.AsyncClient,
    db_engine: AsyncEngine,
    order_api: str,
    temporal_env: WorkflowEnvironment,
):
    definition = {
        "name": "tour",
        "nodes": [
            node("hi", "message", content="Hola {{contact.name}}"),
            node("name", "question", content="¿Nombre?", variable="name"),
            node(
                "menu",
                "button",
                content="¿Qué quieres?",
                variable="choice",
                options=[{"id": "buy", "label": "Comprar"}, {"id": "quit", "label": "Salir"}],
            ),
            node("bye", "end", content="Adiós"),
            node("greet", "setVariable", variable="greeting", value="Hola {{name}}"),
            node(
                "order", "api", apiUrl=order_api + "/orders/{{name}}", mappings={"total": "total"}
            ),
            node(
                "total",
                "message",
                content="{{greeting}}: total {{total}}, {{api.response.items.0.name}}",
            ),
            node(
                "pic",
                "media",
                mediaUrl="https://example.com/a.png",
                mediaType="image",
                caption="Foto",
            ),
            node("where", "location", latitude=40.4, longitude=-3.7, name="Tienda"),
            node("card", "contact", contactName="Soporte", contactPhone="+34600000000"),
            node(
                "cards",
                "carousel",
                cards=[{"title": "Libros", "buttons": [{"text": "Ver", "action": "see"}]}],
            ),
            node(
                "pick",
                "list",
                content="Elige",
                options=[{"id": "r1", "label": "Rojo"}, {"id": "r2", "label": "Azul"}],
                variable="color",
            ),
            node(
                "quick",
                "quickReply",
                content="¿Seguro?",
                options=[{"id": "y", "label": "Sí"}, {"id": "n", "label": "No"}],
            ),
            node(
                "form",
                "form",
                content="Datos",
                variable="profile",
                fields=[
                    {"name": "email", "label": "Email", "type": "email"},
                    {"name": "age", "label": "Edad", "type": "number"},
                ],
            ),
            node("wait", "delay", delay=1),
            node("big", "condition", condition="profile.age > 17"),
            node("agent", "transfer", transferMessage="Te paso con un agente"),
            node("end", "end", content="Fin {{color}} {{profile.email}}"),
            node("minor", "end", content="Eres menor"),
        ],
        "edges": [
            edge("hi", "name"),
            edge("name", "menu"),
            edge("menu", "greet", "buy"),
            edge("menu", "bye", "quit"),
            edge("greet", "order"),
            edge("order", "total"),
            edge("total", "pic"),
            edge("pic", "where"),
            edge("where", "card"),
            edge("card", "cards"),
            edge("cards", "pick"),
            edge("pick", "quick"),
            edge("quick", "form"),
            edge("form", "wait"),
            edge("wait", "big"),
            edge("big", "agent", "true"),
            edge("big", "minor", "false"),
            edge("agent", "end"),
        ],
    }
    bot, channel = await make_web_bot(db_engine, definition)
    chat = WebChat(api, channel, "tour")
    await chat.say("hola")
    await chat.wait_replies(2)
    await chat.say("Ana")
    await chat.wait_replies(3)
    await chat.say(payload="buy")
    replies = await chat.wait_replies(8)
    assert replies[3] == "Hola Ana: total 42, book for Ana"
    assert "Foto" in replies[4] and "Tienda" in replies[5] and "Soporte" in replies[6]
    assert "Libros" in replies[7]
    for answer, expected in [
        ("Ver", "Elige"),
        ("2", "¿Seguro?"),
        ("Sí", "Email"),
        ("not an email", "Email"),
        ("ana@example.com", "Edad"),
        ("30", "Te paso con un agente"),
    ]:
        count = len(await chat.replies())
        await chat.say(answer)

        async def answered(count: int = count, expected: str = expected) -> bool:
            return any(expected in reply for reply in (await chat.replies())[count:])

        await wait_for(answered, what=f"{expected!r} after {answer!r}")
    handle = temporal_env.client.get_workflow_handle(conversation_workflow_id(bot, channel, "tour"))

    async def handed_off() -> bool:
        return (await handle.query(ConversationWorkflow.status))["handed_off"]

    await wait_for(handed_off, what="the hand-off")
    await chat.say("¿hola?")
    await handle.signal(ConversationWorkflow.release, "resume")
    replies = await wait_for(
        lambda: _last_is(chat, "Fin Azul ana@example.com"), what="the end message"
    )

    async def run_completed() -> bool:
        async with make_session_factory(db_engine)() as session:
            return await session.scalar(select(FlowRun.status)) == "completed"

    await wait_for(run_completed, what="the run to complete")
    async with make_session_factory(db_engine)() as session:
        types = set((await session.scalars(select(FlowRunStep.node_type))).all())
        failed = await session.scalar(select(func.count()).where(Message.status == "failed"))
    assert {
        "message",
        "question",
        "button",
        "setVariable",
        "api",
        "media",
        "location",
        "contact",
        "carousel",
        "list",
        "quickReply",
        "form",
        "delay",
        "condition",
        "transfer",
        "end",
    } <= types
    assert failed == 0


async def _last_is(chat: WebChat, text: str) -> list[str] | None:
    replies = await chat.replies()
    return replies if replies and replies[-1] == text else None


@pytest.mark.parametrize("template", default_templates(), ids=lambda t: t.slug)
async def test_seed_templates_run_over_the_web_channel(
    api: httpx.AsyncClient, db_engine: AsyncEngine, template: Any
):
    definition = template.definition.model_dump(mode="json", by_alias=True)
    _bot, channel = await make_web_bot(db_engine, definition)
    chat = WebChat(api, channel, f"seed-{template.slug}")
    await chat.say("hola")
    first = definition["nodes"][0]["data"]["content"]
    replies = await chat.wait_replies(2)
    assert replies[0] == first
