"""The flow graph in the seeds' React-Flow shape, its export file, and edge routing.

Field names follow the seeds (camelCase aliases such as `sourceHandle`, `exportDate`), unknown
fields are kept, and `to_export()` writes back what was read, so an export re-exports unchanged.
The one normalisation: `variables` may be a dict or the seeds' list of
`{name, defaultValue, ...}` (or plain names) and is always held as a dict name -> default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TriggerType = Literal["keyword", "pattern", "default", "manual"]
DEFAULT_HANDLE = "default"
# Handles that never fall back to the default edges: unwired, they end the run.
EXCLUSIVE_HANDLES = frozenset({"timeout", "error"})
EXPORT_VERSION = "1.0.0"


class _SeedModel(BaseModel):
    """Seed-shaped JSON: camelCase aliases, extra fields kept, dumped by alias."""

    model_config = ConfigDict(
        extra="allow", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )


class Position(_SeedModel):
    x: float = 0
    y: float = 0


class FlowNode(_SeedModel):
    id: str
    type: str
    position: Position = Field(default_factory=Position)
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_flagged_start(self) -> bool:
        """Whether the author marked this node as the start (type `start` or `data.isStart`)."""
        return self.type == "start" or self.data.get("isStart") is True


class FlowEdge(_SeedModel):
    id: str
    source: str
    target: str
    source_handle: str | None = Field(default=None, alias="sourceHandle")
    target_handle: str | None = Field(default=None, alias="targetHandle")
    label: str | None = None
    condition: str | None = None

    @property
    def handle(self) -> str:
        """The source handle, with no handle spelled `default`."""
        return self.source_handle or DEFAULT_HANDLE


MAX_NAME_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 2_000
MAX_KEYWORDS, MAX_KEYWORD_LENGTH = 50, 100
MAX_FLOW_NODES, MAX_FLOW_EDGES = 500, 2_000
Keyword = Annotated[str, Field(max_length=MAX_KEYWORD_LENGTH)]


class FlowTrigger(BaseModel):
    """When a flow starts: on keywords, on a regex pattern, as the default flow, or by hand."""

    type: TriggerType = "keyword"
    keywords: list[Keyword] = Field(default_factory=list, max_length=MAX_KEYWORDS)
    pattern: str | None = None


class FlowDefinition(_SeedModel):
    """A flow as the seeds store and export it."""

    name: str = Field(max_length=MAX_NAME_LENGTH)
    description: str = Field(default="", max_length=MAX_DESCRIPTION_LENGTH)
    trigger: TriggerType = "keyword"
    keywords: list[Keyword] = Field(default_factory=list, max_length=MAX_KEYWORDS)
    pattern: str | None = None
    nodes: list[FlowNode] = Field(default_factory=list, max_length=MAX_FLOW_NODES)
    edges: list[FlowEdge] = Field(default_factory=list, max_length=MAX_FLOW_EDGES)
    variables: dict[str, Any] = Field(default_factory=dict)
    priority: int = 0

    @model_validator(mode="before")
    @classmethod
    def _spread_trigger_object(cls, value: Any) -> Any:
        """Accept `trigger: {type, keywords, pattern}` as well as the seeds' flat fields."""
        if isinstance(value, dict) and isinstance(value.get("trigger"), dict):
            trigger = FlowTrigger.model_validate(value["trigger"])
            value = {**value, "trigger": trigger.type}
            value.setdefault("keywords", trigger.keywords)
            value.setdefault("pattern", trigger.pattern)
        return value

    @field_validator("variables", mode="before")
    @classmethod
    def _variables_as_dict(cls, value: Any) -> Any:
        if value is None:
            return {}
        if isinstance(value, list):
            defaults: dict[str, Any] = {}
            for item in value:
                if isinstance(item, str):
                    defaults[item] = None
                elif isinstance(item, dict) and isinstance(item.get("name"), str):
                    defaults[item["name"]] = item.get("defaultValue", item.get("default"))
                else:
                    raise ValueError("each variable must be a name or {name, defaultValue}")
            return defaults
        return value

    @property
    def trigger_rule(self) -> FlowTrigger:
        return FlowTrigger(type=self.trigger, keywords=self.keywords, pattern=self.pattern)

    def to_json(self) -> dict[str, Any]:
        """The definition as seed-shaped JSON: every flow field, nodes and edges as read."""
        complete = self.model_dump(mode="json", exclude={"nodes", "edges"})
        as_read = self.model_dump(mode="json", exclude_unset=True, include={"nodes", "edges"})
        return {**complete, "nodes": as_read.get("nodes", []), "edges": as_read.get("edges", [])}

    def to_export(self, export_date: str) -> dict[str, Any]:
        """The seeds' export file (`export_date` is passed in: this code reads no clock)."""
        return FlowExport(version=EXPORT_VERSION, export_date=export_date, flow=self).to_json()


class FlowExport(_SeedModel):
    """The seeds' export file: `{"version": "1.0.0", "exportDate": ..., "flow": {...}}`."""

    version: str
    export_date: str | None = Field(default=None, alias="exportDate")
    flow: FlowDefinition

    def to_json(self) -> dict[str, Any]:
        """The file's JSON: its own fields as read, and the flow as `FlowDefinition.to_json`."""
        meta = self.model_dump(mode="json", exclude={"flow"}, exclude_none=True)
        return {**meta, "flow": self.flow.to_json()}


class FlowGraphError(ValueError):
    """The graph has no single start node."""


class FlowGraph:
    """Lookups over a definition: nodes by id, outgoing edges, the start node, routing."""

    def __init__(self, definition: FlowDefinition) -> None:
        self.definition = definition
        self.nodes: dict[str, FlowNode] = {}
        for node in definition.nodes:
            self.nodes.setdefault(node.id, node)
        self.outgoing: dict[str, list[FlowEdge]] = {node_id: [] for node_id in self.nodes}
        self.incoming: dict[str, list[FlowEdge]] = {node_id: [] for node_id in self.nodes}
        for edge in definition.edges:
            if edge.source in self.nodes and edge.target in self.nodes:
                self.outgoing[edge.source].append(edge)
                self.incoming[edge.target].append(edge)

    def node(self, node_id: str) -> FlowNode:
        return self.nodes[node_id]

    def start_candidates(self) -> list[str]:
        """Flagged start nodes if any, else the nodes no other node leads to."""
        flagged = [node_id for node_id, node in self.nodes.items() if node.is_flagged_start]
        if flagged:
            return flagged
        return [
            node_id
            for node_id, edges in self.incoming.items()
            if all(edge.source == node_id for edge in edges)
        ]

    def start_node_id(self) -> str:
        candidates = self.start_candidates()
        if len(candidates) != 1:
            found = ", ".join(repr(c) for c in candidates) or "none"
            raise FlowGraphError(f"the flow needs exactly one start node (found {found})")
        return candidates[0]

    def next_node(self, node_id: str, handle: str, evaluate: Callable[[str], Any]) -> str | None:
        """The node to run after `node_id` left by `handle`; None ends the run.

        Candidates are the edges leaving by that handle; when there are none (and the handle is
        not `timeout` or `error`), the edges with no handle or `default`. The first candidate
        whose `condition` is empty or evaluates truthy wins.
        """
        edges = self.outgoing.get(node_id, [])
        candidates = [edge for edge in edges if edge.handle == handle]
        if not candidates and handle not in EXCLUSIVE_HANDLES:
            candidates = [edge for edge in edges if edge.handle == DEFAULT_HANDLE]
        for edge in candidates:
            if not edge.condition or evaluate(edge.condition):
                return edge.target
        return None
