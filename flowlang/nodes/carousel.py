"""The `carousel` node: cards with an image and buttons.

With buttons it waits for the choice and leaves by the chosen button's `action` (else its
`payload`, else `card<i>-<j>`); the chosen card's title goes into `variable`. Without buttons it
only sends the cards.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from flowlang.asking.choices import (
    Choice,
    ChoiceSettings,
    ask_choice,
    check_choice_ids,
    choice_handles,
)
from flowlang.node_base import DEFAULT, NodeData, NodeType, RunContext, Template, render_optional
from models.messages import Button, Card, OutboundMessage


class CardButton(NodeData):
    text: Template
    action: str | None = None
    payload: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _text_spellings(cls, value: Any) -> Any:
        if isinstance(value, dict) and "text" not in value:
            text = value.get("title", value.get("label"))
            return {**value, "text": text} if text is not None else value
        return value


class CarouselCard(NodeData):
    title: Template
    description: Template | None = None
    image_url: Template | None = None
    buttons: list[CardButton] = Field(default_factory=list)


class CarouselData(ChoiceSettings):
    """The seeds' `cards[{title, description, imageUrl, buttons[{text, action, payload}]}]`."""

    cards: list[CarouselCard] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> CarouselData:
        check_choice_ids(button_ids(self))
        return self


def button_ids(data: CarouselData) -> list[str]:
    return [
        button.action or button.payload or f"card{i}-{j}"
        for i, card in enumerate(data.cards, start=1)
        for j, button in enumerate(card.buttons, start=1)
    ]


def _has_buttons(data: CarouselData) -> bool:
    return any(card.buttons for card in data.cards)


async def run(ctx: RunContext, data: CarouselData) -> str:
    ids = iter(button_ids(data))
    cards: list[Card] = []
    choices: list[Choice] = []
    for card in data.cards:
        title = ctx.render(card.title)
        buttons = [Button(id=next(ids), title=ctx.render(button.text)) for button in card.buttons]
        aliases = (title,) if len(buttons) == 1 else ()
        choices += [Choice(b.id, b.title, value=title, aliases=aliases) for b in buttons]
        cards.append(
            Card(
                title=title,
                description=render_optional(ctx, card.description),
                image_url=render_optional(ctx, card.image_url),
                buttons=buttons,
            )
        )
    message = OutboundMessage(kind="carousel", text=ctx.render(data.content) or None, cards=cards)
    if not choices:
        await ctx.send(message)
        return DEFAULT
    return await ask_choice(ctx, message, choices, data)


CAROUSEL = NodeType(
    type="carousel",
    data_model=CarouselData,
    handles=lambda data: choice_handles(button_ids(data)),
    required_handles=button_ids,
    waits=_has_buttons,
    run=run,
)
