"""What the `ai` node asks the `ai_completion` activity, and what it gets back."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class AiToolCall(BaseModel):
    """The model asked to call tool `name` with `arguments` (a JSON text)."""

    id: str
    name: str
    arguments: str


class AiMessage(BaseModel):
    """One message of a multi-turn exchange (agent mode, or a retried extraction)."""

    role: Literal["user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[AiToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None  # the call a `tool` message answers


class AiTool(BaseModel):
    """A function the model may call, its parameters a JSON schema."""

    name: str
    description: str
    parameters: dict[str, Any]


class AiRequest(BaseModel):
    """One chat completion: an optional system prompt, then the user prompt — or, when
    `messages` is given, that whole exchange; `tools` the model may call (`tool_choice` forces
    one by name)."""

    model: str | None = None  # None: the deployment's default model
    prompt: str = ""
    system_prompt: str | None = None
    max_tokens: int = 150
    temperature: float = 0.7
    timeout_seconds: float = 30.0
    retries: int = 3
    messages: list[AiMessage] = Field(default_factory=list)
    tools: list[AiTool] = Field(default_factory=list)
    tool_choice: str | None = None


class AiUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def plus(self, other: AiUsage) -> AiUsage:
        return AiUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class AiResponse(BaseModel):
    """The answer's text (empty when the model only called tools), its tool calls, the model
    that produced it and the tokens it cost."""

    text: str
    model: str
    usage: AiUsage
    finish_reason: str | None = None
    tool_calls: list[AiToolCall] = Field(default_factory=list)
