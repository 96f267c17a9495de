"""GraphQL for the node registry, so editors can offer every node type the engine runs."""

from __future__ import annotations

import sys
from typing import Any

import strawberry
from strawberry.scalars import JSON

from flowlang.node_base import NodeType
from flowlang.nodes import REGISTRY


def _fixed_handles(node_type: NodeType) -> list[str]:
    """The handles a node of this type has before any option is added (lists left empty)."""
    fields: dict[str, Any] = {
        name: [] for name, field in node_type.data_model.model_fields.items() if field.is_required()
    }
    return node_type.handles(node_type.data_model.model_construct(**fields))


@strawberry.type(description="A node type the engine runs: its data's JSON Schema and handles.")
class NodeTypeInfo:
    type: str
    description: str = strawberry.field(description="What the node does (its module's summary).")
    data_schema: JSON = strawberry.field(description="JSON Schema of `data` (camelCase names).")
    handles: list[str] = strawberry.field(
        description="Outgoing handles without options; `button`-like nodes add one per option "
        "id, `condition` adds `true` and `false` once it has a condition."
    )

    @classmethod
    def of(cls, node_type: NodeType) -> NodeTypeInfo:
        summary = (sys.modules[node_type.run.__module__].__doc__ or "").strip().splitlines()[0]
        return cls(
            type=node_type.type,
            description=summary,
            data_schema=node_type.data_model.model_json_schema(by_alias=True),
            handles=_fixed_handles(node_type),
        )


@strawberry.type
class NodeTypeQuery:
    @strawberry.field(description="Every node type flows can use, in the registry's order.")
    def node_types(self) -> list[NodeTypeInfo]:
        return [NodeTypeInfo.of(node_type) for node_type in REGISTRY.values()]
