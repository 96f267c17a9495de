"""The `list` node: a list message with sections of rows; it leaves by the chosen row's id."""

from __future__ import annotations

from pydantic import Field, model_validator

from flowlang.asking.choices import (
    ChoiceSettings,
    Option,
    ask_choice,
    choice_handles,
    number_options,
    option_choices,
)
from flowlang.node_base import NodeData, NodeType, RunContext, Template, always, render_optional
from models.messages import ListRow, ListSection, OutboundMessage


class Section(NodeData):
    title: Template = ""
    rows: list[Option] = Field(min_length=1)


class ListData(ChoiceSettings):
    """`sections[{title, rows[{id, title, description}]}]`, or the seeds' flat `options`.

    Flat options become one untitled section; rows without an id are numbered 1, 2 … across
    all sections. `buttonLabel` opens the list in WhatsApp.
    """

    options: list[Option] = Field(default_factory=list)
    sections: list[Section] = Field(default_factory=list)
    button_label: Template = "Ver opciones"

    @model_validator(mode="after")
    def _one_list_of_rows(self) -> ListData:
        if self.options and self.sections:
            raise ValueError("give either `options` or `sections`, not both")
        if self.options:
            self.sections = [Section(rows=self.options)]
            self.options = []
        if not self.sections:
            raise ValueError("a list needs `options` or `sections` with rows")
        number_options(self.rows())
        return self

    def rows(self) -> list[Option]:
        return [row for section in self.sections for row in section.rows]


def _row_ids(data: ListData) -> list[str]:
    return [row.id or "" for row in data.rows()]


async def run(ctx: RunContext, data: ListData) -> str:
    choices = option_choices(ctx, data.rows())
    remaining = iter(choices)
    sections = [
        ListSection(
            title=ctx.render(section.title),
            rows=[
                ListRow(
                    id=choice.id,
                    title=choice.title,
                    description=render_optional(ctx, row.description),
                )
                for row, choice in zip(section.rows, remaining, strict=False)
            ],
        )
        for section in data.sections
    ]
    message = OutboundMessage(
        kind="list",
        text=ctx.render(data.content),
        sections=sections,
        button_label=ctx.render(data.button_label),
    )
    return await ask_choice(ctx, message, choices, data)


LIST = NodeType(
    type="list",
    data_model=ListData,
    handles=lambda data: choice_handles(_row_ids(data)),
    required_handles=_row_ids,
    waits=always,
    run=run,
)
