"""The `ai_completion` activity against the fake OpenAI API: request shape, usage, failures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.ai_completion import AiCompleter
from models.payloads.ai import AiRequest, AiResponse, AiUsage
from models.settings import Settings
from tests.fake_openai import FakeOpenAI


def completer(fake: FakeOpenAI, **overrides: object) -> AiCompleter:
    options = {
        "openai_api_key": fake.api_key,
        "openai_base_url": fake.url,
        "openai_default_model": "house-model",
        **overrides,
    }
    return AiCompleter(Settings.model_validate(options))


async def complete(completer: AiCompleter, request: AiRequest) -> AiResponse:
    return await ActivityEnvironment().run(completer.ai_completion, request)


async def failure(completer: AiCompleter, request: AiRequest) -> ApplicationError:
    with pytest.raises(ApplicationError) as raised:
        await complete(completer, request)
    return raised.value


async def test_a_completion_sends_the_prompts_and_records_model_and_usage(
    fake_openai: FakeOpenAI,
) -> None:
    request = AiRequest(
        model="act-ok",
        prompt="¿Por qué no arranca?",
        system_prompt="Eres técnico",
        max_tokens=120,
        temperature=0.2,
    )
    answer = await complete(completer(fake_openai), request)
    assert answer == AiResponse(
        text="[act-ok] ¿Por qué no arranca?",
        model="act-ok",
        finish_reason="stop",
        usage=AiUsage(prompt_tokens=6, completion_tokens=5, total_tokens=11),
    )
    [sent] = fake_openai.requests_for("act-ok")
    assert sent["messages"] == [
        {"role": "system", "content": "Eres técnico"},
        {"role": "user", "content": "¿Por qué no arranca?"},
    ]
    assert (sent["max_tokens"], sent["temperature"]) == (120, 0.2)


async def test_the_default_model_comes_from_the_settings(fake_openai: FakeOpenAI) -> None:
    answer = await complete(completer(fake_openai), AiRequest(prompt="hola"))
    assert answer.model == "house-model" and answer.text == "[house-model] hola"


@pytest.mark.parametrize("error", ["rate_limit", "server_error", "overloaded"])
async def test_rate_limits_and_server_errors_are_retryable(
    fake_openai: FakeOpenAI, error: str
) -> None:
    model = f"act-{error}"
    fake_openai.fail_next(model, error)
    raised = await failure(completer(fake_openai), AiRequest(model=model, prompt="hola"))
    assert not raised.non_retryable and raised.type == "RetryableAiError"
    if error == "rate_limit":
        assert raised.next_retry_delay == timedelta(seconds=1)  # the server's Retry-After
        assert "429: Rate limit reached" in raised.message


@pytest.mark.parametrize("error", ["invalid_api_key", "context_length", "insufficient_quota"])
async def test_refusals_fail_for_good(fake_openai: FakeOpenAI, error: str) -> None:
    model = f"act-{error}"
    fake_openai.fail_next(model, error)
    raised = await failure(completer(fake_openai), AiRequest(model=model, prompt="hola"))
    assert raised.non_retryable and raised.type == "PermanentAiError"


async def test_an_answer_without_text_fails_for_good(fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_next("act-filtered", "filtered")
    raised = await failure(completer(fake_openai), AiRequest(model="act-filtered", prompt="hola"))
    assert raised.non_retryable
    assert (
        raised.message == "the model act-filtered answered no text (finish reason: content_filter)"
    )


async def test_a_wrong_key_is_refused_by_the_service(fake_openai: FakeOpenAI) -> None:
    wrong = completer(fake_openai, openai_api_key="sk-wrong")
    raised = await failure(wrong, AiRequest(model="act-wrong-key", prompt="hola"))
    assert raised.non_retryable
    assert raised.message.startswith("the AI service answered 401: Incorrect API key provided")
    assert fake_openai.requests_for("act-wrong-key") == []


async def test_no_key_is_a_clear_permanent_error(fake_openai: FakeOpenAI) -> None:
    raised = await failure(completer(fake_openai, openai_api_key=None), AiRequest(prompt="hola"))
    assert raised.non_retryable
    assert raised.message == "no AI API key is configured: set OPENAI_API_KEY for the worker"


async def test_an_unreachable_service_is_retryable(fake_openai: FakeOpenAI) -> None:
    nowhere = completer(fake_openai, openai_base_url="http://127.0.0.1:9/v1")
    raised = await failure(nowhere, AiRequest(prompt="hola", timeout_seconds=2))
    assert not raised.non_retryable
    assert "cannot reach the AI service at http://127.0.0.1:9/v1" in raised.message
