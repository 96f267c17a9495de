"""The five default flow templates of the seeds, transcribed as JSON (Spanish text kept)."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any, Literal

from pydantic import BaseModel

from flowlang.graph import FlowDefinition

TEMPLATE_SLUGS = (
    "customer-service-basic",
    "appointment-booking",
    "satisfaction-survey",
    "product-catalog",
    "ai-tech-support",
)
TemplateCategory = Literal[
    "customer-service", "sales", "support", "marketing", "booking", "survey", "custom"
]


class FlowTemplate(BaseModel):
    """A ready-made flow to start from."""

    slug: str
    name: str
    category: TemplateCategory
    description: str
    difficulty: Literal["beginner", "intermediate", "advanced"]
    definition: FlowDefinition

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FlowTemplate:
        """A template from the seeds' shape: name, category, … nodes, edges at the top."""
        definition = FlowDefinition.model_validate(
            {"name": raw["name"], "description": raw["description"], **_graph(raw)}
        )
        return cls.model_validate({**raw, "definition": definition})


def _graph(raw: dict[str, Any]) -> dict[str, Any]:
    return {key: raw[key] for key in ("nodes", "edges", "variables") if key in raw}


def default_templates() -> list[FlowTemplate]:
    """The default templates, in the seeds' order."""
    folder = files(__package__)
    return [
        FlowTemplate.from_json(json.loads(folder.joinpath(f"{slug}.json").read_text("utf-8")))
        for slug in TEMPLATE_SLUGS
    ]
