"""Flow validation: every problem of a flow at once, each with its node or edge id.

Codes: `invalid_flow`, `unknown_node_type`, `invalid_node_data`, `invalid_expression`,
`duplicate_node_id`, `duplicate_edge_id`, `dangling_edge`, `unknown_handle`, `missing_start`,
`ambiguous_start`, `unreachable_node`, `missing_handle`, `loop_without_wait`,
`invalid_pattern`.

A node without outgoing edges is a legitimate end of the flow. A node's required handles (a
button's options, a condition's true/false) must be wired only when the node has outgoing
edges but no default edge: otherwise a contact taking an unwired branch would be stranded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ValidationError

from flowlang.expressions import ExpressionError, check_regex, compile_expression
from flowlang.graph import DEFAULT_HANDLE, FlowDefinition, FlowGraph
from flowlang.nodes import REGISTRY, NodeType


class ValidationProblem(BaseModel):
    code: str
    message: str
    node_id: str | None = None
    edge_id: str | None = None


def validate_flow(definition: FlowDefinition | dict[str, Any]) -> list[ValidationProblem]:
    """All the problems of a flow (an empty list when it is valid)."""
    if not isinstance(definition, FlowDefinition):
        try:
            definition = FlowDefinition.model_validate(definition)
        except ValidationError as error:
            return [ValidationProblem(code="invalid_flow", message=m) for m in _readable(error)]
    return _Checker(definition).run()


def _readable(error: ValidationError) -> list[str]:
    """One sentence per pydantic error: `nodes.0.id: Field required`."""
    messages = []
    for detail in error.errors(include_url=False):
        where = ".".join(str(part) for part in detail["loc"])
        messages.append(f"{where}: {detail['msg']}" if where else detail["msg"])
    return messages


class _Checker:
    def __init__(self, definition: FlowDefinition) -> None:
        self.definition = definition
        self.graph = FlowGraph(definition)
        self.problems: list[ValidationProblem] = []
        self.parsed: dict[str, tuple[NodeType, Any]] = {}  # nodes with a known type, valid data

    def add(
        self, code: str, message: str, node_id: str | None = None, edge_id: str | None = None
    ) -> None:
        self.problems.append(
            ValidationProblem(code=code, message=message, node_id=node_id, edge_id=edge_id)
        )

    def run(self) -> list[ValidationProblem]:
        self.check_trigger()
        self.check_nodes()
        self.check_edges()
        self.check_handles()
        self.check_reachability()
        self.check_loops()
        return self.problems

    def check_trigger(self) -> None:
        if self.definition.pattern:
            try:
                check_regex(self.definition.pattern)
            except ExpressionError as error:
                self.add("invalid_pattern", f"trigger pattern: {error}")
        if self.definition.trigger == "pattern" and not self.definition.pattern:
            self.add("invalid_pattern", "the trigger is `pattern` but no pattern is set")

    def check_nodes(self) -> None:
        seen: set[str] = set()
        for node in self.definition.nodes:
            if node.id in seen:
                self.add("duplicate_node_id", f"two nodes have the id {node.id!r}", node.id)
                continue
            seen.add(node.id)
            node_type = REGISTRY.get(node.type)
            if node_type is None:
                self.add(
                    "unknown_node_type",
                    f"node {node.id!r} has the unknown type {node.type!r}",
                    node.id,
                )
                continue
            try:
                self.parsed[node.id] = (node_type, node_type.parse(node.data))
            except ValidationError as error:
                self.report_data_errors(node.id, node.type, error)

    def report_data_errors(self, node_id: str, type_name: str, error: ValidationError) -> None:
        for detail in error.errors(include_url=False):
            where = ".".join(str(part) for part in ("data", *detail["loc"]))
            code = "invalid_expression" if detail["type"] == "invalid_expression" else None
            self.add(
                code or "invalid_node_data",
                f"node {node_id!r} ({type_name}): {where}: {detail['msg']}",
                node_id,
            )

    def check_edges(self) -> None:
        seen: set[str] = set()
        for edge in self.definition.edges:
            if edge.id in seen:
                self.add("duplicate_edge_id", f"two edges have the id {edge.id!r}", edge_id=edge.id)
            seen.add(edge.id)
            for end, node_id in (("source", edge.source), ("target", edge.target)):
                if node_id not in self.graph.nodes:
                    self.add(
                        "dangling_edge",
                        f"edge {edge.id!r} has {end} {node_id!r}, which is not a node",
                        edge_id=edge.id,
                    )
            if edge.condition:
                try:
                    compile_expression(edge.condition)
                except ExpressionError as error:
                    self.add(
                        "invalid_expression",
                        f"edge {edge.id!r}: condition {edge.condition!r}: {error}",
                        edge_id=edge.id,
                    )

    def check_handles(self) -> None:
        for node_id, (node_type, data) in self.parsed.items():
            edges = self.graph.outgoing[node_id]
            handles = node_type.handles(data)
            for edge in edges:
                if not handles:
                    self.add(
                        "unknown_handle",
                        f"edge {edge.id!r} leaves node {node_id!r} ({node_type.type}), which "
                        "ends the flow and cannot have outgoing edges",
                        node_id,
                        edge.id,
                    )
                elif edge.handle not in handles:
                    self.add(
                        "unknown_handle",
                        f"edge {edge.id!r} leaves node {node_id!r} ({node_type.type}) by "
                        f"{_describe_handle(edge.handle)}; it can leave by {_names(handles)}",
                        node_id,
                        edge.id,
                    )
            wired = {edge.handle for edge in edges}
            if not edges or DEFAULT_HANDLE in wired:
                continue
            missing = [h for h in node_type.required_handles(data) if h not in wired]
            if missing:
                self.add(
                    "missing_handle",
                    f"node {node_id!r} ({node_type.type}) has no edge for {_names(missing)} "
                    "and no default edge: a contact taking that branch would be stranded",
                    node_id,
                )

    def check_reachability(self) -> None:
        candidates = self.graph.start_candidates()
        if not candidates:
            self.add(
                "missing_start",
                "the flow has no nodes"
                if not self.graph.nodes
                else "the flow has no start node: every node has an incoming edge",
            )
            return
        if len(candidates) > 1:
            self.add(
                "ambiguous_start",
                f"the flow has several start nodes ({_names(candidates)}); exactly one node "
                "may have no incoming edge",
                candidates[1],
            )
        reached = _reachable(self.graph, candidates)
        for node_id in self.graph.nodes:
            if node_id not in reached:
                self.add(
                    "unreachable_node",
                    f"node {node_id!r} cannot be reached from the start",
                    node_id,
                )

    def check_loops(self) -> None:
        for component in _cycles(self.graph):
            if not any(self.waits(node_id) for node_id in component):
                ids = _names(component)
                self.add(
                    "loop_without_wait",
                    f"nodes {ids} form a loop with no question, choice, delay or transfer in "
                    "it: the run would spin forever",
                    component[0],
                )

    def waits(self, node_id: str) -> bool:
        """Whether the node always waits; nodes already reported as broken count as waiting."""
        if node_id not in self.parsed:
            return True
        node_type, data = self.parsed[node_id]
        return node_type.waits(data)


def _names(items: Iterable[str]) -> str:
    return ", ".join(repr(item) for item in items)


def _describe_handle(handle: str) -> str:
    return "no handle" if handle == DEFAULT_HANDLE else f"the handle {handle!r}"


def _reachable(graph: FlowGraph, starts: list[str]) -> set[str]:
    reached = set(starts)
    pending = list(starts)
    while pending:
        for edge in graph.outgoing[pending.pop()]:
            if edge.target not in reached:
                reached.add(edge.target)
                pending.append(edge.target)
    return reached


def _cycles(graph: FlowGraph) -> list[list[str]]:
    """The graph's strongly connected components that contain a cycle (Tarjan, iterative)."""
    order = list(graph.nodes)
    position = {node_id: i for i, node_id in enumerate(order)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in order:
        if root in index:
            continue
        work = [(root, iter(graph.outgoing[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node_id, edges = work[-1]
            edge = next(edges, None)
            if edge is not None:
                target = edge.target
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(graph.outgoing[target])))
                elif target in on_stack:
                    low[node_id] = min(low[node_id], index[target])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node_id])
            if low[node_id] == index[node_id]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node_id:
                        break
                looping = len(component) > 1 or any(
                    edge.target == node_id for edge in graph.outgoing[node_id]
                )
                if looping:
                    components.append(sorted(component, key=position.__getitem__))
    return components
