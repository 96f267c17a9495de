"""What the `ai` node asks the `ai_completion` activity, and what it gets back."""

from __future__ import annotations

from pydantic import BaseModel


class AiRequest(BaseModel):
    """One chat completion: an optional system prompt, then the user prompt."""

    model: str | None = None  # None: the deployment's default model
    prompt: str
    system_prompt: str | None = None
    max_tokens: int = 150
    temperature: float = 0.7
    timeout_seconds: float = 30.0
    retries: int = 3


class AiUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class AiResponse(BaseModel):
    """The answer's text, the model that produced it and the tokens it cost."""

    text: str
    model: str
    usage: AiUsage
    finish_reason: str | None = None
