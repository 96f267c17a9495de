"""The `form` node: several fields asked in turn, each checked, stored together.

Each answer is stored under its field `name`; all of them, as a dict, under `variable` (and the
node id). An optional field is skipped with "-", "skip", "omitir" or "saltar". Like a question,
it leaves by `invalid` or `timeout` when a field is not answered (what was answered stays).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field, model_validator

from flowlang.asking.answers import ANSWER_TYPES, AnswerCheck, check_answer, normalize
from flowlang.asking.prompting import PromptSettings, ask, store_answer
from flowlang.node_base import (
    DEFAULT,
    INVALID,
    TIMEOUT,
    NodeData,
    NodeType,
    RegexPattern,
    RunContext,
    Template,
    VariableName,
    always,
)
from models.messages import Button, InboundMessage, OutboundMessage

SKIP_WORDS = frozenset({"", "skip", "omitir", "saltar"})
OPTIONAL_HINT = " (opcional: responde «-» para omitir)"


class FormField(NodeData):
    """The seeds' `{name, type, label, required, validation (a regex), options}`."""

    name: VariableName
    label: Template
    type: str = "text"
    required: bool = True
    validation: RegexPattern | None = None
    options: list[str] = Field(default_factory=list)

    def check(self) -> AnswerCheck:
        if self.options:
            return AnswerCheck(type="choice", choices=self.options)
        if self.validation:
            return AnswerCheck(type="regex", pattern=self.validation)
        return AnswerCheck(type=self.type if self.type in ANSWER_TYPES else "text")


class FormData(PromptSettings):
    """`content` (an optional introduction) and `fields`; `variable` defaults to the node id."""

    content: Template | None = None
    fields: list[FormField] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> FormData:
        names = [field.name for field in self.fields]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"two fields are named {duplicates[0]!r}")
        return self


def _interpreter(field: FormField) -> Callable[[InboundMessage], Any]:
    check = field.check()

    def interpret(reply: InboundMessage) -> Any:
        text = reply.answer_text()
        if not field.required and normalize(text) in SKIP_WORDS:
            return None
        return check_answer(check, text)

    return interpret


async def run(ctx: RunContext, data: FormData) -> str:
    if data.content:
        await ctx.send(OutboundMessage(kind="text", text=ctx.render(data.content)))
    answers: dict[str, Any] = {}
    for field in data.fields:
        prompt = ctx.render(field.label) + ("" if field.required else OPTIONAL_HINT)
        message = OutboundMessage(
            kind="buttons" if field.options else "text",
            text=prompt,
            buttons=[Button(id=str(i), title=o) for i, o in enumerate(field.options, start=1)],
        )
        answer = await ask(ctx, message, _interpreter(field), data)
        if answer.outcome != "answered":
            store_answer(ctx, data.variable, answers)
            return answer.outcome
        answers[field.name] = ctx.variables[field.name] = answer.value
    store_answer(ctx, data.variable, answers)
    return DEFAULT


FORM = NodeType(
    type="form",
    data_model=FormData,
    handles=lambda _: [DEFAULT, TIMEOUT, INVALID],
    waits=always,
    run=run,
)
