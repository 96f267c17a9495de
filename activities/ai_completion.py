"""The `ai_completion` activity used by the `ai` node: one chat completion through the official
`openai` client, against `openai_base_url` (OpenAI, or any server speaking its API).

The client does not retry by itself; Temporal does, so every attempt shows in the history.
Rate limits (429), timeouts, conflicts, server errors and network errors are retried (honouring
`Retry-After`); an exhausted quota, a refused key and any other 4xx fail for good.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam
from temporalio import activity
from temporalio.exceptions import ApplicationError

from models.payloads import activity_names
from models.payloads.ai import AiMessage, AiRequest, AiResponse, AiToolCall, AiUsage
from models.settings import Settings

PERMANENT = "PermanentAiError"
RETRYABLE = "RetryableAiError"
RETRYABLE_STATUSES = frozenset({408, 409, 429})
MAX_RETRY_AFTER = 60.0


class AiCompleter:
    """Holds one OpenAI client (and its connection pool) for the worker's lifetime."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: AsyncOpenAI | None = None

    def client(self) -> AsyncOpenAI:
        if not self.settings.openai_api_key:
            raise ApplicationError(
                "no AI API key is configured: set OPENAI_API_KEY for the worker",
                type=PERMANENT,
                non_retryable=True,
            )
        if self._client is None:
            self._client = AsyncOpenAI(
                api_key=self.settings.openai_api_key,
                base_url=self.settings.openai_base_url,
                max_retries=0,
            )
        return self._client

    @activity.defn(name=activity_names.AI_COMPLETION)
    async def ai_completion(self, request: AiRequest) -> AiResponse:
        """The model's answer with its model name and token usage."""
        model = request.model or self.settings.openai_default_model
        messages = chat_messages(request)
        try:
            completion = await self.client().chat.completions.create(
                model=model,
                messages=messages,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                timeout=request.timeout_seconds,
                **tool_options(request),
            )
        except openai.APIStatusError as err:
            raise classify(err) from err
        except openai.APIConnectionError as err:
            raise ApplicationError(
                f"cannot reach the AI service at {self.settings.openai_base_url}: {err}",
                type=RETRYABLE,
            ) from err
        choice = completion.choices[0] if completion.choices else None
        text = (choice.message.content or choice.message.refusal or "").strip() if choice else ""
        calls = [
            AiToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments)
            for call in (choice.message.tool_calls or [] if choice else [])
            if call.type == "function"
        ]
        if not choice or not (text or calls):
            reason = choice.finish_reason if choice else "no choices"
            raise ApplicationError(
                f"the model {model} answered no text (finish reason: {reason})",
                type=PERMANENT,
                non_retryable=True,
            )
        usage = completion.usage
        return AiResponse(
            text=text,
            model=completion.model or model,
            finish_reason=choice.finish_reason,
            tool_calls=calls,
            usage=AiUsage(
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                total_tokens=usage.total_tokens,
            )
            if usage
            else AiUsage(),
        )


def chat_messages(request: AiRequest) -> list[ChatCompletionMessageParam]:
    """The system prompt, then the exchange (`messages`) or else the single prompt."""
    messages: list[ChatCompletionMessageParam] = []
    if request.system_prompt:
        messages.append({"role": "system", "content": request.system_prompt})
    for message in request.messages or [AiMessage(role="user", content=request.prompt)]:
        if message.role == "tool":
            messages.append(
                {
                    "role": "tool",
                    "content": message.content or "",
                    "tool_call_id": message.tool_call_id or "",
                }
            )
        elif message.role == "assistant":
            calls = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in message.tool_calls
            ]
            messages.append(
                {
                    "role": "assistant",
                    "content": message.content,
                    **({"tool_calls": calls} if calls else {}),
                }
            )  # type: ignore[typeddict-item]
        else:
            messages.append({"role": "user", "content": message.content or ""})
    return messages


def tool_options(request: AiRequest) -> dict[str, Any]:
    """`tools` (and a forced `tool_choice`) in the API's shape; none when there are none."""
    if not request.tools:
        return {}
    tools = [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters,
            },
        }
        for tool in request.tools
    ]
    options: dict[str, Any] = {"tools": tools}
    if request.tool_choice:
        options["tool_choice"] = {"type": "function", "function": {"name": request.tool_choice}}
    return options


def classify(err: openai.APIStatusError) -> ApplicationError:
    """The Temporal error for an error answer: retryable or not, with the provider's message."""
    detail = err.body.get("message") if isinstance(err.body, dict) else None
    message = f"the AI service answered {err.status_code}: {detail or err.message}"
    quota_spent = err.code == "insufficient_quota"
    if quota_spent or (err.status_code < 500 and err.status_code not in RETRYABLE_STATUSES):
        return ApplicationError(message, type=PERMANENT, non_retryable=True)
    return ApplicationError(
        message,
        type=RETRYABLE,
        next_retry_delay=retry_after_delay(err.response.headers.get("retry-after")),
    )


def retry_after_delay(header: str | None) -> timedelta | None:
    """`Retry-After` in seconds, capped; None when absent or not a number of seconds."""
    try:
        seconds = float(header) if header else None
    except ValueError:
        return None
    return None if seconds is None else timedelta(seconds=min(max(seconds, 0.0), MAX_RETRY_AFTER))
