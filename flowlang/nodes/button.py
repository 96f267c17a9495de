"""The `button` node: a message with reply buttons; it leaves by the chosen option's id."""

from __future__ import annotations

from pydantic import Field, field_validator

from flowlang.asking.choices import (
    ChoiceSettings,
    Option,
    ask_choice,
    choice_handles,
    number_options,
    option_choices,
)
from flowlang.node_base import NodeType, RunContext, always
from models.messages import Button, OutboundMessage


class ButtonData(ChoiceSettings):
    """`content` and `options[{id, label}]` as in the seeds; options without an id get 1, 2 …"""

    options: list[Option] = Field(min_length=1)

    @field_validator("options")
    @classmethod
    def _ids(cls, options: list[Option]) -> list[Option]:
        return number_options(options)


def _option_ids(data: ButtonData) -> list[str]:
    return [option.id or "" for option in data.options]


async def run(ctx: RunContext, data: ButtonData) -> str:
    choices = option_choices(ctx, data.options)
    message = OutboundMessage(
        kind="buttons",
        text=ctx.render(data.content),
        buttons=[Button(id=choice.id, title=choice.title) for choice in choices],
    )
    return await ask_choice(ctx, message, choices, data)


def button_node(type_name: str) -> NodeType:
    """A reply-button node type (`button`, and `quickReply` which behaves the same)."""
    return NodeType(
        type=type_name,
        data_model=ButtonData,
        handles=lambda data: choice_handles(_option_ids(data)),
        required_handles=_option_ids,
        waits=always,
        run=run,
    )


BUTTON = button_node("button")
