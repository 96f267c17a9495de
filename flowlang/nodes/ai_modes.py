"""The `ai` node's two longer modes: `agent` (a conversation with the contact until the model
calls `exit` or the contact says an exit keyword) and `extract` (fields of a JSON schema the
model fills through function calling, checked, retried once when wrong)."""

from __future__ import annotations

import json
from typing import Any, Protocol

from flowlang.node_base import DEFAULT, NodeFailed, RunContext
from models.messages import OutboundMessage
from models.payloads.ai import AiMessage, AiRequest, AiResponse, AiTool, AiToolCall, AiUsage

EXIT_TOOL = AiTool(
    name="exit",
    description="End the conversation when the contact's need is met or they want to stop.",
    parameters={
        "type": "object",
        "properties": {
            "summary": {
                "type": "string",
                "description": "What the conversation established, in one or two sentences.",
            }
        },
        "required": ["summary"],
    },
)
TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


class AgentSettings(Protocol):
    max_turns: int
    max_total_tokens: int
    exit_keywords: list[str]
    summary_variable: str


class ExtractSettings(Protocol):
    output_schema: dict[str, Any] | None
    variable: str


async def converse(ctx: RunContext, data: AgentSettings, first: AiRequest) -> AiResponse:
    """Talk with the contact; the last answer, with the summary as text and usage summed."""
    history = [AiMessage(role="user", content=first.prompt)]
    usage, turns, said, ended_by = AiUsage(), 0, "", "limit"
    keywords = {word.strip().lower() for word in data.exit_keywords}
    while True:
        answer = await ctx.ai_completion(
            first.model_copy(update={"messages": history, "tools": [EXIT_TOOL]})
        )
        usage = usage.plus(answer.usage)
        exit_call = next((c for c in answer.tool_calls if c.name == EXIT_TOOL.name), None)
        if exit_call is not None:
            said, ended_by = _arguments(exit_call).get("summary") or said, "tool"
            break
        if answer.text:
            said = answer.text
            await ctx.send(OutboundMessage(kind="text", text=answer.text))
            history.append(AiMessage(role="assistant", content=answer.text))
        turns += 1
        if turns >= data.max_turns or usage.total_tokens >= data.max_total_tokens:
            break
        reply = await ctx.wait_for_reply(None)  # silence: the run is abandoned meanwhile
        text = reply.answer_text().strip() if reply else ""
        if reply is None or text.lower() in keywords:
            ended_by = "keyword"
            break
        history.append(AiMessage(role="user", content=text))
    ctx.variables[data.summary_variable] = said
    ctx.variables[ctx.node_id] = {
        "summary": said,
        "turns": turns,
        "ended_by": ended_by,
        "model": answer.model,
        "usage": usage.model_dump(),
        "error": None,
    }
    return answer.model_copy(update={"text": said, "usage": usage})


async def extract(ctx: RunContext, data: ExtractSettings, first: AiRequest) -> str:
    """Fill `output_schema` from the prompt into `variable` (and one variable per field)."""
    schema = data.output_schema or {}
    tool = AiTool(name="extract", description="Record the fields found.", parameters=schema)
    messages = [AiMessage(role="user", content=first.prompt)]
    usage, problems = AiUsage(), ["no answer"]
    for _ in range(2):  # the first answer, and one retry told what was wrong
        answer = await ctx.ai_completion(
            first.model_copy(
                update={"messages": messages, "tools": [tool], "tool_choice": tool.name}
            )
        )
        usage = usage.plus(answer.usage)
        call = next((c for c in answer.tool_calls if c.name == tool.name), None)
        values = _arguments(call) if call else {}
        problems = schema_problems(values, schema) if call else ["no extract call"]
        if not problems:
            ctx.variables.update({name: values.get(name) for name in schema["properties"]})
            ctx.variables[data.variable] = values
            ctx.variables[ctx.node_id] = {
                "response": values,
                "model": answer.model,
                "usage": usage.model_dump(),
                "error": None,
            }
            return DEFAULT
        messages += _correction(answer, call, problems)
    raise NodeFailed(f"the model's extraction was invalid twice: {'; '.join(problems)}")


def schema_problems(values: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """What is wrong with `values` for the object schema: missing, mistyped, not in enum."""
    problems = [
        f"{name} is missing" for name in schema.get("required", []) if values.get(name) is None
    ]
    for name, spec in schema["properties"].items():
        value = values.get(name)
        if value is None:
            continue
        expected = TYPES.get(spec.get("type", ""), (object,))
        if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
            problems.append(f"{name} must be of type {spec.get('type')}")
        elif "enum" in spec and value not in spec["enum"]:
            problems.append(f"{name} must be one of {spec['enum']}")
    return problems


def check_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """An `outputSchema` must be an object schema whose properties have known types."""
    properties = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(properties, dict) or not properties:
        raise ValueError('outputSchema must be {"type": "object", "properties": {...}}')
    for name, spec in properties.items():
        if not name.isidentifier() or not isinstance(spec, dict) or spec.get("type") not in TYPES:
            raise ValueError(f"outputSchema property {name!r} needs a type among {list(TYPES)}")
    unknown = set(schema.get("required", [])) - set(properties)
    if unknown:
        raise ValueError(f"outputSchema requires unknown properties: {sorted(unknown)}")
    return schema


def _correction(
    answer: AiResponse, call: AiToolCall | None, problems: list[str]
) -> list[AiMessage]:
    """What to tell the model after a wrong extraction (answering its call, if any)."""
    feedback = f"Invalid: {'; '.join(problems)}. Call extract again with valid values."
    if call is None:
        return [
            AiMessage(role="assistant", content=answer.text or "…"),
            AiMessage(role="user", content=feedback),
        ]
    return [
        AiMessage(role="assistant", tool_calls=[call]),
        AiMessage(role="tool", tool_call_id=call.id, content=feedback),
    ]


def _arguments(call: AiToolCall | None) -> dict[str, Any]:
    try:
        value = json.loads(call.arguments) if call else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
