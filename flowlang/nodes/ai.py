"""The `ai` node: ask a language model (OpenAI or a compatible server) and use its answer.

The seeds' fields are `prompt` (a template), `aiModel`, `maxTokens` and `temperature`;
`systemPrompt` sets the model's role and tone. The answer is sent to the contact (unless
`sendToContact` is false) and stored in `variable` (default `aiResponse`, as in the seeds).
Under the node id the flow also finds the details::

    {"response": "...", "model": "gpt-4o-mini", "error": null,
     "usage": {"prompt_tokens": 31, "completion_tokens": 120, "total_tokens": 151}}

`mode` `agent` keeps talking with the contact (each answer sent, each reply added to the history)
until the model calls its `exit` tool, the contact says one of `exitKeywords`, or `maxTurns` /
`maxTotalTokens` are spent; the summary lands in `summaryVariable`. `mode` `extract` has the model
fill `outputSchema` (an object JSON schema) by function calling; the values are checked against
it (one retry telling the model what was wrong), then stored in `variable` and one variable per
field. See `ai_modes`.

Each call runs as an activity: rate limits and server errors are retried `retryAttempts` times
with backoff. When it finally fails (no API key, key refused, bad request, retries spent) the
node sends `errorMessage` if set, stores `error` (and `variable` becomes null), and leaves by
`error`; with no `error` edge the run ends.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from flowlang.node_base import (
    DEFAULT,
    ERROR,
    NodeData,
    NodeFailed,
    NodeType,
    RunContext,
    Template,
    VariableName,
    render_optional,
)
from flowlang.nodes.ai_modes import check_schema, converse, extract
from models.messages import OutboundMessage
from models.payloads.ai import AiRequest


class AiData(NodeData):
    prompt: Template = Field(min_length=1)
    ai_model: str | None = Field(default=None, min_length=1, description="Default: settings.")
    max_tokens: int = Field(default=150, ge=1, le=16_000)
    temperature: float = Field(default=0.7, ge=0, le=2)
    system_prompt: Template | None = None
    variable: VariableName = "aiResponse"
    send_to_contact: bool = True
    error_message: Template | None = Field(default=None, description="Said when the call fails.")
    timeout_seconds: float = Field(default=30, gt=0, le=300, description="Per attempt.")
    retry_attempts: int = Field(default=3, ge=0, le=10)
    mode: Literal["answer", "agent", "extract"] = "answer"
    max_turns: int = Field(default=10, ge=1, le=50, description="Agent: answers at most.")
    max_total_tokens: int = Field(default=4000, ge=100, le=200_000)
    exit_keywords: list[str] = Field(default_factory=lambda: ["salir", "exit", "adiós"])
    summary_variable: VariableName = "aiSummary"
    output_schema: Annotated[dict[str, Any], AfterValidator(check_schema)] | None = None

    @model_validator(mode="after")
    def _extraction_has_a_schema(self) -> Self:
        if self.mode == "extract" and self.output_schema is None:
            raise ValueError("mode extract needs an outputSchema")
        return self


async def run(ctx: RunContext, data: AiData) -> str:
    prompt = ctx.render(data.prompt).strip()
    if not prompt:
        return await _failed(ctx, data, "the prompt is empty once its variables are filled in")
    request = AiRequest(
        model=data.ai_model,
        prompt=prompt,
        system_prompt=render_optional(ctx, data.system_prompt),
        max_tokens=data.max_tokens,
        temperature=data.temperature,
        timeout_seconds=data.timeout_seconds,
        retries=data.retry_attempts,
    )
    try:
        if data.mode == "extract":
            return await extract(ctx, data, request)
        if data.mode == "agent":
            answer = await converse(ctx, data, request)
            ctx.variables[data.variable] = answer.text
            return DEFAULT
        answer = await ctx.ai_completion(request)
    except NodeFailed as failure:
        return await _failed(ctx, data, str(failure))
    ctx.variables[data.variable] = answer.text
    ctx.variables[ctx.node_id] = {
        "response": answer.text,
        "model": answer.model,
        "usage": answer.usage.model_dump(),
        "error": None,
    }
    if data.send_to_contact:
        await ctx.send(OutboundMessage(kind="text", text=answer.text))
    return DEFAULT


async def _failed(ctx: RunContext, data: AiData, reason: str) -> str:
    ctx.variables[data.variable] = None
    ctx.variables[ctx.node_id] = {"response": None, "model": None, "usage": None, "error": reason}
    if data.error_message:
        await ctx.send(OutboundMessage(kind="text", text=ctx.render(data.error_message)))
    return ERROR


AI = NodeType(
    type="ai",
    data_model=AiData,
    handles=lambda _: [DEFAULT, ERROR],
    run=run,
)
