"""The `ai` node's agent and extraction modes end to end: web chat → Temporal → fake OpenAI
(scripted tool calls, a 429) → the contact; token usage recorded on the step."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from flowlang.nodes import get_node_type
from tests.fake_openai import FakeOpenAI
from tests.helpers import make_web_bot, node
from tests.integration_fixtures import answer_first, asking_flow, step_of

PERSON = {
    "type": "object",
    "required": ["name", "age"],
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "plan": {"type": "string", "enum": ["basic", "pro"]},
    },
}


def agent_flow(model: str) -> dict[str, Any]:
    agent = node(
        "agent",
        "ai",
        mode="agent",
        aiModel=model,
        maxTurns=4,
        prompt="Ayuda a {{contact.external_id}} con su pedido: {{first}}",
        systemPrompt="Eres el asistente de la tienda.",
    )
    return asking_flow(("¿Qué necesitas?", "first"), agent, "Resumen: {{aiSummary}}", "Error")


async def test_the_agent_talks_until_it_calls_exit(
    api: httpx.AsyncClient, db_engine: AsyncEngine, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(
        "agent-ok",
        "¿Qué número de pedido?",
        {"tool": "exit", "arguments": {"summary": "Pedido 42 localizado"}},
    )
    _bot, channel = await make_web_bot(db_engine, agent_flow("agent-ok"))
    chat = await answer_first(api, channel, "agent-ana", "mi pedido no llega")
    assert (await chat.wait_replies(2))[1] == "¿Qué número de pedido?"
    await chat.say("42")
    assert (await chat.wait_replies(4))[2:] == ["Resumen: Pedido 42 localizado", "¿Algo más?"]
    _first, second = fake_openai.requests_for("agent-ok")
    assert [t["function"]["name"] for t in second["tools"]] == ["exit"]
    assert [(m["role"], m.get("content")) for m in second["messages"]] == [
        ("system", "Eres el asistente de la tienda."),
        ("user", "Ayuda a agent-ana con su pedido: mi pedido no llega"),
        ("assistant", "¿Qué número de pedido?"),
        ("user", "42"),
    ]
    step = await step_of(db_engine, "agent")
    assert step.output is not None
    assert step.output["model"] == "agent-ok"
    assert step.output["usage"]["total_tokens"] > 0
    await chat.say("no")
    assert (await chat.wait_replies(5))[-1] == "Gracias: no"


async def test_an_exit_keyword_ends_the_agent_without_asking_the_model(
    api: httpx.AsyncClient, db_engine: AsyncEngine, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script("agent-bye", "¿Algo concreto?")
    _bot, channel = await make_web_bot(db_engine, agent_flow("agent-bye"))
    chat = await answer_first(api, channel, "agent-bea", "dudas")
    await chat.wait_replies(2)
    await chat.say("Salir")
    assert (await chat.wait_replies(4))[2] == "Resumen: ¿Algo concreto?"
    assert len(fake_openai.requests_for("agent-bye")) == 1


def extraction_flow(model: str) -> dict[str, Any]:
    pick = node(
        "pick",
        "ai",
        mode="extract",
        aiModel=model,
        outputSchema=PERSON,
        prompt="Datos de: {{text}}",
        variable="person",
        retryAttempts=2,
    )
    return asking_flow(("Preséntate", "text"), pick, "{{name}} tiene {{age}}", "No entendí")


async def test_extraction_survives_a_rate_limit_and_one_invalid_answer(
    api: httpx.AsyncClient, db_engine: AsyncEngine, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_next("extract-ok", "rate_limit")
    fake_openai.script(
        "extract-ok",
        {"tool": "extract", "arguments": {"name": "Ana", "age": "30"}},
        {"tool": "extract", "arguments": {"name": "Ana", "age": 30}},
    )
    _bot, channel = await make_web_bot(db_engine, extraction_flow("extract-ok"))
    chat = await answer_first(api, channel, "extract-ana", "Soy Ana, 30 años")
    assert (await chat.wait_replies(3))[1:] == ["Ana tiene 30", "¿Algo más?"]
    limited, invalid, valid = fake_openai.requests_for("extract-ok")
    assert limited == invalid  # the same request, retried after the 429
    assert invalid["tool_choice"] == {"type": "function", "function": {"name": "extract"}}
    assert invalid["tools"][0]["function"]["parameters"] == PERSON
    told = valid["messages"][-1]
    assert told["role"] == "tool" and "age must be of type integer" in told["content"]


async def test_two_invalid_extractions_take_the_error_edge(
    api: httpx.AsyncClient, db_engine: AsyncEngine, fake_openai: FakeOpenAI
) -> None:
    wrong = {"tool": "extract", "arguments": {"name": "Ana", "plan": "gold"}}
    fake_openai.script("extract-bad", wrong, wrong)
    _bot, channel = await make_web_bot(db_engine, extraction_flow("extract-bad"))
    chat = await answer_first(api, channel, "extract-bea", "Soy Bea")
    assert (await chat.wait_replies(3))[1] == (
        "No entendí: the model's extraction was invalid twice: age is missing; plan must be "
        "one of ['basic', 'pro']"
    )
    await chat.say("nada")
    assert (await chat.wait_replies(4))[-1] == "Gracias: nada"
    assert len(fake_openai.requests_for("extract-bad")) == 2


def test_bad_mode_settings_are_refused() -> None:
    ai = get_node_type("ai")
    assert ai.parse({"prompt": "x", "mode": "extract", "outputSchema": PERSON}).mode == "extract"
    for bad in (
        {"prompt": "x", "mode": "extract"},
        {"prompt": "x", "mode": "extract", "outputSchema": {"type": "array"}},
        {
            "prompt": "x",
            "mode": "extract",
            "outputSchema": {"type": "object", "properties": {"a b": {"type": "string"}}},
        },
        {"prompt": "x", "mode": "extract", "outputSchema": {**PERSON, "required": ["zip"]}},
        {"prompt": "x", "mode": "chat"},
        {"prompt": "x", "mode": "agent", "maxTurns": 0},
    ):
        with pytest.raises(ValidationError):
            ai.parse(bad)
