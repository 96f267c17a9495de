"""Flow definitions: the seeds' JSON shapes load, re-export unchanged, and route edges."""

from __future__ import annotations

import json

import pytest

from flowlang.graph import FlowDefinition, FlowExport, FlowGraph, FlowGraphError
from flowlang.templates import TEMPLATE_SLUGS, default_templates

# What the seeds' `exportFlowAsJSON` writes (`JSON.stringify(exportData, null, 2)` of a Mongo
# flow: subdocuments carry `_id`, the editor adds `label` and `selected`).
SEED_EXPORT = """{
  "version": "1.0.0",
  "exportDate": "2024-03-01T10:15:00.000Z",
  "flow": {
    "name": "Menú principal",
    "description": "Bienvenida y menú",
    "trigger": "keyword",
    "keywords": ["hola", "menu"],
    "pattern": null,
    "nodes": [
      {
        "id": "welcome",
        "type": "message",
        "position": {"x": 250, "y": 50},
        "data": {"label": "Bienvenida", "content": "¡Hola {{contact.name}}! 👋"},
        "_id": "65e1a0c2f1d2a3b4c5d6e7f8"
      },
      {
        "id": "menu",
        "type": "button",
        "position": {"x": 250, "y": 150},
        "data": {
          "content": "Elige:",
          "options": [
            {"id": "orders", "label": "📦 Pedidos"},
            {"id": "agent", "label": "💬 Agente"}
          ]
        },
        "selected": false,
        "_id": "65e1a0c2f1d2a3b4c5d6e7f9"
      },
      {"id": "bye", "type": "end", "position": {"x": 250, "y": 250}, "data": {"content": "Adiós"}}
    ],
    "edges": [
      {"id": "e1", "source": "welcome", "target": "menu", "_id": "65e1a0c2f1d2a3b4c5d6e7fa"},
      {"id": "e2", "source": "menu", "target": "bye", "sourceHandle": "orders", "label": "Pedidos"},
      {"id": "e3", "source": "menu", "target": "bye", "sourceHandle": "agent", "condition": null}
    ],
    "variables": {"orders": 0},
    "priority": 5
  }
}"""


def test_seed_export_file_loads_unchanged_and_re_exports_the_same_json() -> None:
    exported = FlowExport.model_validate_json(SEED_EXPORT)
    flow = exported.flow
    assert flow.name == "Menú principal"
    assert flow.keywords == ["hola", "menu"]
    assert flow.priority == 5
    assert flow.edges[1].source_handle == "orders"
    assert flow.nodes[0].data["label"] == "Bienvenida"
    assert exported.to_json() == json.loads(SEED_EXPORT)
    again = flow.to_export("2024-03-01T10:15:00.000Z")
    assert again == json.loads(SEED_EXPORT)


def test_variables_list_or_dict_become_defaults_by_name() -> None:
    listed = FlowDefinition.model_validate(
        {
            "name": "f",
            "variables": [{"name": "city", "type": "string", "defaultValue": "Madrid"}, "count"],
        }
    )
    assert listed.variables == {"city": "Madrid", "count": None}
    assert FlowDefinition(name="f", variables={"a": 1}).variables == {"a": 1}
    assert FlowDefinition.model_validate({"name": "f", "variables": None}).variables == {}


def test_trigger_object_or_flat_fields() -> None:
    flat = FlowDefinition.model_validate({"name": "f", "trigger": "pattern", "pattern": "^hi"})
    nested = FlowDefinition.model_validate(
        {"name": "f", "trigger": {"type": "keyword", "keywords": ["precio"]}}
    )
    assert flat.trigger_rule.pattern == "^hi"
    assert nested.trigger == "keyword"
    assert nested.keywords == ["precio"]


def test_a_definition_built_in_python_exports_the_full_seed_shape() -> None:
    definition = FlowDefinition(name="f")
    exported = definition.to_export("2025-01-01T00:00:00Z")
    assert exported["version"] == "1.0.0"
    assert set(exported["flow"]) == {
        "name",
        "description",
        "trigger",
        "keywords",
        "pattern",
        "nodes",
        "edges",
        "variables",
        "priority",
    }


def _graph(edges: list[dict], nodes: list[dict] | None = None) -> FlowGraph:
    nodes = nodes or [{"id": n, "type": "message"} for n in ("a", "b", "c", "d")]
    return FlowGraph(FlowDefinition.model_validate({"name": "g", "nodes": nodes, "edges": edges}))


def test_start_node_is_the_one_without_incoming_edges() -> None:
    graph = _graph(
        [
            {"id": "1", "source": "a", "target": "b"},
            {"id": "2", "source": "b", "target": "c"},
            {"id": "3", "source": "c", "target": "d"},
            {"id": "4", "source": "a", "target": "a"},  # a self-loop does not make a start
        ]
    )
    assert graph.start_node_id() == "a"


def test_flagged_start_wins_and_several_starts_are_an_error() -> None:
    nodes = [
        {"id": "a", "type": "message"},
        {"id": "b", "type": "message", "data": {"isStart": True}},
    ]
    assert _graph([{"id": "1", "source": "a", "target": "b"}], nodes).start_node_id() == "b"
    with pytest.raises(FlowGraphError, match=r"exactly one start node .*'a', 'b'"):
        _graph([], [*nodes[:1], {"id": "b", "type": "message"}]).start_node_id()


def test_routing_by_handle_then_default_then_condition() -> None:
    graph = _graph(
        [
            {"id": "1", "source": "a", "target": "b", "sourceHandle": "yes"},
            {"id": "2", "source": "a", "target": "c", "condition": "vip"},
            {"id": "3", "source": "a", "target": "d"},
        ]
    )

    def evaluate_with(vip: bool):
        return lambda expression: {"vip": vip}[expression]

    assert graph.next_node("a", "yes", evaluate_with(False)) == "b"
    assert graph.next_node("a", "no", evaluate_with(True)) == "c"
    assert graph.next_node("a", "default", evaluate_with(False)) == "d"
    assert graph.next_node("d", "default", evaluate_with(False)) is None


def test_timeout_and_error_never_fall_back_to_the_default_edge() -> None:
    graph = _graph([{"id": "1", "source": "a", "target": "b"}])
    assert graph.next_node("a", "timeout", bool) is None
    assert graph.next_node("a", "error", bool) is None
    assert graph.next_node("a", "invalid", bool) == "b"


def test_the_five_seed_templates_load_in_order_with_their_text() -> None:
    templates = default_templates()
    assert [t.slug for t in templates] == list(TEMPLATE_SLUGS)
    assert [t.category for t in templates] == [
        "customer-service",
        "booking",
        "survey",
        "sales",
        "support",
    ]
    service = templates[0]
    assert service.name == "Atención al Cliente Básica"
    assert service.definition.nodes[0].data["content"].startswith("¡Hola! 👋 Bienvenido")
    assert "\n\n¿En qué puedo ayudarte hoy?" in service.definition.nodes[0].data["content"]
    assert templates[2].definition.nodes[1].data["options"][0]["label"] == "⭐⭐⭐⭐⭐ Excelente"
    assert templates[4].definition.nodes[2].type == "ai"
