"""Offering options and recognising the one chosen (button, quickReply, list, carousel).

A reply picks an option by its payload (the option id sent back by the channel), by its
1-based number in the message (text-only channels number the options), or by its label
(ignoring case, accents, emoji and punctuation). The node then leaves by the option's id;
with no edge for that id, routing takes the default edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import model_validator

from flowlang.asking.answers import CHOOSE_AN_OPTION, InvalidAnswer, normalize
from flowlang.asking.prompting import PromptSettings, ask, store_answer
from flowlang.node_base import DEFAULT, INVALID, TIMEOUT, NodeData, RunContext, Template
from models.messages import InboundMessage, OutboundMessage


class Option(NodeData):
    """One option: the seeds' `{id, label}` (also `title` / `text`, or a bare string)."""

    id: str | None = None
    label: Template
    description: Template | None = None

    @model_validator(mode="before")
    @classmethod
    def _label_spellings(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"label": value}
        if isinstance(value, dict) and "label" not in value:
            label = value.get("title", value.get("text"))
            return {**value, "label": label} if label is not None else value
        return value


def number_options(options: list[Option]) -> list[Option]:
    """Give options without an id their 1-based position as id; then `check_choice_ids`."""
    for position, option in enumerate(options, start=1):
        if option.id is None:
            option.id = str(position)
    check_choice_ids([option.id or "" for option in options])
    return options


def check_choice_ids(ids: list[str]) -> None:
    """Choice ids become handles: they must be unique and differ from the node's own handles."""
    seen: set[str] = set()
    for choice_id in ids:
        if choice_id in seen:
            raise ValueError(f"two options have the id {choice_id!r}")
        if choice_id in (DEFAULT, TIMEOUT, INVALID):
            raise ValueError(f"{choice_id!r} is reserved and cannot be an option id")
        seen.add(choice_id)


class ChoiceSettings(PromptSettings):
    """A prompt text plus the waiting settings; the chosen label goes into `variable`."""

    content: Template = ""


@dataclass(frozen=True)
class Choice:
    """An option as offered: `value` is what gets stored, `aliases` also match it."""

    id: str
    title: str
    value: str
    aliases: tuple[str, ...] = ()


def match_choice(reply: InboundMessage, choices: list[Choice]) -> Choice:
    """The choice a reply picks, by payload id, number or label; raises `InvalidAnswer`."""
    by_id = next((choice for choice in choices if choice.id == reply.payload), None)
    if by_id:
        return by_id
    wanted = normalize(reply.payload or reply.text or "")
    if wanted.isascii() and wanted.isdigit() and 1 <= int(wanted) <= len(choices):
        return choices[int(wanted) - 1]
    for choice in choices:
        if wanted and wanted in {normalize(text) for text in (choice.title, *choice.aliases)}:
            return choice
    raise InvalidAnswer(CHOOSE_AN_OPTION)


def choice_handles(ids: list[str]) -> list[str]:
    return [DEFAULT, TIMEOUT, INVALID, *ids]


async def ask_choice(
    ctx: RunContext, message: OutboundMessage, choices: list[Choice], settings: PromptSettings
) -> str:
    """Offer the choices and wait; the handle is the chosen id, `invalid` or `timeout`."""
    answer = await ask(ctx, message, lambda reply: match_choice(reply, choices), settings)
    if answer.outcome != "answered":
        return answer.outcome
    chosen: Choice = answer.value
    store_answer(ctx, settings.variable, chosen.value)
    return chosen.id


def option_choices(ctx: RunContext, options: list[Option]) -> list[Choice]:
    """Options (already numbered) as choices, their labels rendered."""
    choices = []
    for option in options:
        title = ctx.render(option.label)
        choices.append(Choice(id=option.id or "", title=title, value=title))
    return choices
