"""The `question` node: ask, wait for the answer, check it, reprompt, store it.

Leaves by `default` once answered, by `invalid` after `maxAttempts` bad answers (no `invalid`
edge: it goes on along the default edge), by `timeout` when no answer comes within `timeout`
seconds (no `timeout` edge: the run ends).
"""

from __future__ import annotations

from pydantic import Field

from flowlang.asking.answers import AnswerCheck, InvalidAnswer, check_answer
from flowlang.asking.prompting import PromptSettings, ask, store_answer
from flowlang.node_base import (
    DEFAULT,
    INVALID,
    TIMEOUT,
    NodeType,
    RunContext,
    Template,
    always,
)
from models.messages import InboundMessage, OutboundMessage


class QuestionData(PromptSettings):
    """`content` (the question), `variable`, `validation` (a type name or an `AnswerCheck`)."""

    content: Template = Field(min_length=1)
    validation: AnswerCheck = Field(default_factory=AnswerCheck)


async def run(ctx: RunContext, data: QuestionData) -> str:
    check = data.validation

    def interpret(reply: InboundMessage) -> object:
        try:
            return check_answer(check, reply.answer_text())
        except InvalidAnswer:
            if check.message:
                raise InvalidAnswer(ctx.render(check.message)) from None
            raise

    message = OutboundMessage(kind="text", text=ctx.render(data.content))
    answer = await ask(ctx, message, interpret, data)
    if answer.outcome != "answered":
        return answer.outcome
    store_answer(ctx, data.variable, answer.value)
    return DEFAULT


QUESTION = NodeType(
    type="question",
    data_model=QuestionData,
    handles=lambda _: [DEFAULT, TIMEOUT, INVALID],
    waits=always,
    run=run,
)
