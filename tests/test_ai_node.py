"""The `ai` node's behaviour, run through the in-memory RunContext (no Temporal, no network)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from flowlang.node_base import NodeFailed
from flowlang.nodes import get_node_type
from flowlang.templates import default_templates
from models.payloads.ai import AiRequest, AiResponse, AiUsage
from tests.fake_run_context import FakeRunContext


def echo(request: AiRequest) -> AiResponse:
    """Answers like the model would, showing what it was asked."""
    return AiResponse(
        text=f"Respuesta a: {request.prompt}",
        model=request.model or "default-model",
        usage=AiUsage(prompt_tokens=12, completion_tokens=30, total_tokens=42),
        finish_reason="stop",
    )


def refuse(_: AiRequest) -> NodeFailed:
    return NodeFailed("the AI completion failed: the AI service answered 401: Incorrect API key")


async def test_the_answer_reaches_the_contact_and_the_variable() -> None:
    ctx = FakeRunContext(ai=echo, variables={"userProblem": "no tengo wifi"})
    data = {
        "prompt": "Ayuda a {{contact.name}}: {{userProblem}}",
        "aiModel": "gpt-3.5-turbo",
        "maxTokens": 200,
    }
    assert await ctx.run_node("ai", data, "analyze") == "default"
    assert ctx.texts == ["Respuesta a: Ayuda a Ana: no tengo wifi"]
    assert ctx.ai_requests == [
        AiRequest(model="gpt-3.5-turbo", prompt="Ayuda a Ana: no tengo wifi", max_tokens=200)
    ]
    assert ctx.variables["aiResponse"] == "Respuesta a: Ayuda a Ana: no tengo wifi"
    assert ctx.variables["analyze"] == {
        "response": "Respuesta a: Ayuda a Ana: no tengo wifi",
        "model": "gpt-3.5-turbo",
        "usage": {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42},
        "error": None,
    }


async def test_system_prompt_temperature_and_a_silent_answer_in_a_variable() -> None:
    ctx = FakeRunContext(ai=echo, variables={"text": "¡Todo genial!"})
    data = {
        "prompt": "Sentimiento de: {{text}}",
        "systemPrompt": "Responde solo positive, negative o neutral. Cliente: {{contact.name}}",
        "temperature": 0,
        "variable": "sentiment",
        "sendToContact": False,
        "timeoutSeconds": 10,
        "retryAttempts": 1,
    }
    assert await ctx.run_node("ai", data) == "default"
    assert ctx.sent == []
    assert ctx.variables["sentiment"] == "Respuesta a: Sentimiento de: ¡Todo genial!"
    [request] = ctx.ai_requests
    assert request.system_prompt == "Responde solo positive, negative o neutral. Cliente: Ana"
    assert (request.temperature, request.timeout_seconds, request.retries) == (0, 10, 1)
    assert request.model is None  # the deployment's default model


async def test_a_failed_call_leaves_by_error_with_the_reason() -> None:
    ctx = FakeRunContext(ai=refuse, variables={"aiResponse": "stale answer"})
    data = {"prompt": "Hola", "errorMessage": "Lo siento {{contact.name}}, inténtalo luego."}
    assert await ctx.run_node("ai", data, "analyze") == "error"
    assert ctx.texts == ["Lo siento Ana, inténtalo luego."]
    assert ctx.variables["aiResponse"] is None
    assert "401" in ctx.variables["analyze"]["error"]


async def test_an_empty_prompt_is_not_sent_to_the_model() -> None:
    ctx = FakeRunContext(ai=echo)
    assert await ctx.run_node("ai", {"prompt": "{{nothing}}"}, "analyze") == "error"
    assert ctx.ai_requests == [] and ctx.sent == []
    assert ctx.variables["analyze"]["error"] == (
        "the prompt is empty once its variables are filled in"
    )


def test_bad_settings_are_refused() -> None:
    ai = get_node_type("ai")
    assert ai.handles(ai.parse({"prompt": "x"})) == ["default", "error"]
    for bad in (
        {},
        {"prompt": ""},
        {"prompt": "{{broken"},
        {"prompt": "x", "temperature": 3},
        {"prompt": "x", "maxTokens": 0},
        {"prompt": "x", "variable": "a.b"},
    ):
        with pytest.raises(ValidationError):
            ai.parse(bad)


async def test_the_ai_template_answers_the_described_problem() -> None:
    ctx = FakeRunContext(replies=["La impresora no imprime"], ai=echo)
    await ctx.run_flow(default_templates()[4].definition)
    assert ctx.visited == ["start", "getProblem", "analyzeWithAI"]
    assert ctx.texts[-1] == (
        "Respuesta a: Analiza el siguiente problema técnico y proporciona una solución paso a "
        "paso: La impresora no imprime"
    )
