"""Flow validation: every problem at once, each readable and carrying its node or edge id."""

from __future__ import annotations

from typing import Any

from flowlang.templates import default_templates
from flowlang.validation import ValidationProblem, validate_flow


def flow(nodes: list[dict[str, Any]], edges: list[dict[str, Any]] = (), **extra: Any) -> dict:
    return {"name": "test", "nodes": nodes, "edges": list(edges), **extra}


def msg(node_id: str, content: str = "hola") -> dict[str, Any]:
    return {"id": node_id, "type": "message", "data": {"content": content}}


def edge(edge_id: str, source: str, target: str, handle: str | None = None, **extra: Any):
    return {"id": edge_id, "source": source, "target": target, "sourceHandle": handle, **extra}


def codes(problems: list[ValidationProblem]) -> list[tuple[str, str | None, str | None]]:
    return [(p.code, p.node_id, p.edge_id) for p in problems]


def test_the_seed_templates_are_valid() -> None:
    results = {t.slug: validate_flow(t.definition) for t in default_templates()}
    assert results == {slug: [] for slug in results}, results
    assert "ai-tech-support" in results


def test_a_valid_branching_flow_has_no_problems() -> None:
    nodes = [
        msg("hi"),
        {
            "id": "ask",
            "type": "question",
            "data": {"content": "¿Edad?", "variable": "age", "validation": "number", "timeout": 60},
        },
        {"id": "adult", "type": "condition", "data": {"condition": "{{age}} >= 18"}},
        msg("yes"),
        msg("no"),
        {"id": "wait", "type": "delay", "data": {"duration": {"value": 3, "unit": "days"}}},
    ]
    edges = [
        edge("1", "hi", "ask"),
        edge("2", "ask", "adult"),
        edge("3", "adult", "yes", "true"),
        edge("4", "adult", "no", "false"),
        edge("5", "ask", "wait", "timeout"),
        edge("6", "wait", "ask"),
    ]
    assert validate_flow(flow(nodes, edges)) == []


def test_all_problems_are_reported_at_once_with_ids() -> None:
    nodes = [
        msg("a"),
        msg("a"),  # duplicate id
        {"id": "weird", "type": "hologram", "data": {}},
        {"id": "bad", "type": "message", "data": {}},
        {"id": "q", "type": "question", "data": {"content": "{{name", "maxAttempts": 0}},
        msg("island"),
    ]
    edges = [
        edge("e1", "a", "weird"),
        edge("e2", "weird", "bad"),
        edge("e3", "bad", "q"),
        edge("e4", "q", "ghost"),
        edge("e5", "a", "q", "nope"),
        edge("e6", "island", "island2"),
    ]
    problems = validate_flow(flow(nodes, edges))
    found = codes(problems)
    assert ("duplicate_node_id", "a", None) in found
    assert ("unknown_node_type", "weird", None) in found
    assert ("invalid_node_data", "bad", None) in found
    assert ("invalid_expression", "q", None) in found
    assert ("invalid_node_data", "q", None) in found
    assert ("dangling_edge", None, "e4") in found
    assert ("dangling_edge", None, "e6") in found
    assert ("unknown_handle", "a", "e5") in found
    assert ("ambiguous_start", "island", None) in found
    messages = {p.code + ":" + (p.node_id or p.edge_id or ""): p.message for p in problems}
    assert "node 'bad' (message): data.content: Field required" in messages["invalid_node_data:bad"]
    assert "data.content: unclosed '{{'" in messages["invalid_expression:q"]
    assert "data.maxAttempts" in messages["invalid_node_data:q"]
    assert "edge 'e4' has target 'ghost', which is not a node" == messages["dangling_edge:e4"]
    assert "by the handle 'nope'; it can leave by 'default'" in messages["unknown_handle:a"]


def test_invalid_flow_shape_is_reported_readably() -> None:
    problems = validate_flow({"name": "x", "nodes": [{"type": "message"}], "edges": "no"})
    assert {p.code for p in problems} == {"invalid_flow"}
    text = " | ".join(p.message for p in problems)
    assert "nodes.0.id: Field required" in text
    assert "edges: Input should be a valid list" in text


def test_missing_start_and_empty_flow() -> None:
    looped = flow(
        [{"id": "q1", "type": "question", "data": {"content": "?"}}, msg("m")],
        [edge("1", "q1", "m"), edge("2", "m", "q1")],
    )
    assert codes(validate_flow(looped)) == [("missing_start", None, None)]
    assert "every node has an incoming edge" in validate_flow(looped)[0].message
    assert validate_flow(flow([]))[0].message == "the flow has no nodes"


def test_unreachable_node_behind_a_flagged_start() -> None:
    nodes = [msg("orphan"), {"id": "go", "type": "start", "data": {}}, msg("next")]
    problems = validate_flow(flow(nodes, [edge("1", "go", "next")]))
    assert codes(problems) == [("unreachable_node", "orphan", None)]
    assert problems[0].message == "node 'orphan' cannot be reached from the start"


def test_loop_without_a_wait_is_refused_but_a_loop_through_a_question_is_fine() -> None:
    spinning = flow(
        [msg("a"), msg("b"), {"id": "c", "type": "condition", "data": {"condition": "true"}}],
        [
            edge("1", "a", "b"),
            edge("2", "b", "c"),
            edge("3", "c", "b", "true"),
            edge("4", "c", "a", "false"),
        ],
    )
    problems = validate_flow(spinning)
    assert codes(problems)[-1] == ("loop_without_wait", "a", None)
    assert "'a', 'b', 'c' form a loop" in problems[-1].message
    waiting = flow(
        [msg("hi"), msg("a"), {"id": "q", "type": "question", "data": {"content": "?"}}],
        [
            edge("1", "hi", "a"),
            edge("2", "a", "q"),
            edge("3", "q", "q", "invalid"),
            edge("4", "q", "a"),
        ],
    )
    assert validate_flow(waiting) == []


def test_self_loop_without_a_wait() -> None:
    problems = validate_flow(
        flow([msg("s"), msg("spin")], [edge("1", "s", "spin"), edge("2", "spin", "spin")])
    )
    assert codes(problems) == [("loop_without_wait", "spin", None)]


def test_a_carousel_menu_loop_waits_for_the_choice() -> None:
    carousel = {
        "id": "menu",
        "type": "carousel",
        "data": {"cards": [{"title": "A", "buttons": [{"text": "Ver", "action": "a"}]}]},
    }
    problems = validate_flow(
        flow(
            [msg("hi"), carousel, msg("shown")],
            [edge("1", "hi", "menu"), edge("2", "menu", "shown", "a"), edge("3", "shown", "menu")],
        )
    )
    assert problems == []


def test_button_with_some_options_wired_and_no_default_strands_the_contact() -> None:
    menu = {
        "id": "menu",
        "type": "button",
        "data": {
            "content": "?",
            "options": [
                {"id": "1", "label": "Uno"},
                {"id": "2", "label": "Dos"},
                {"id": "3", "label": "Tres"},
            ],
        },
    }
    nodes = [msg("hi"), menu, msg("one")]
    problems = validate_flow(flow(nodes, [edge("1", "hi", "menu"), edge("2", "menu", "one", "1")]))
    assert codes(problems) == [("missing_handle", "menu", None)]
    assert "no edge for '2', '3' and no default edge" in problems[0].message
    with_default = [
        edge("1", "hi", "menu"),
        edge("2", "menu", "one", "1"),
        edge("3", "menu", "one"),
    ]
    assert validate_flow(flow(nodes, with_default)) == []
    unwired = flow(nodes[:2], [edge("1", "hi", "menu")])
    assert validate_flow(unwired) == []  # a menu with no edges at all ends the flow


def test_condition_needs_both_branches_or_a_default() -> None:
    cond = {"id": "c", "type": "condition", "data": {"condition": "{{x}} == 1"}}
    problems = validate_flow(flow([cond, msg("t")], [edge("1", "c", "t", "true")]))
    assert codes(problems) == [("missing_handle", "c", None)]


def test_end_node_cannot_lead_anywhere() -> None:
    nodes = [{"id": "stop", "type": "end", "data": {}}, msg("after")]
    problems = validate_flow(flow(nodes, [edge("1", "stop", "after")]))
    assert codes(problems) == [("unknown_handle", "stop", "1")]
    assert "ends the flow" in problems[0].message


def test_bad_edge_condition_and_trigger_pattern() -> None:
    problems = validate_flow(
        flow(
            [msg("a"), msg("b")],
            [edge("1", "a", "b", condition="x ==")],
            trigger="pattern",
            pattern="(?<!x)y",
        )
    )
    assert codes(problems) == [("invalid_pattern", None, None), ("invalid_expression", None, "1")]
    assert problems[1].message.startswith("edge '1': condition 'x ==': unexpected end")


def test_duplicate_edge_ids() -> None:
    problems = validate_flow(flow([msg("a"), msg("b")], [edge("1", "a", "b"), edge("1", "a", "b")]))
    assert codes(problems) == [("duplicate_edge_id", None, "1")]


def test_invalid_data_of_each_kind_names_the_field() -> None:
    nodes = [
        {"id": "s", "type": "start"},
        {"id": "d", "type": "delay", "data": {"duration": {"value": 2, "unit": "years"}}},
        {"id": "v", "type": "setVariable", "data": {"variable": "a.b", "value": "x"}},
        {"id": "f", "type": "form", "data": {"fields": []}},
        {"id": "l", "type": "list", "data": {"content": "?"}},
        {"id": "w", "type": "webhook", "data": {"webhookUrl": "https://x", "body": {"a": "{{"}}},
        {"id": "m", "type": "media", "data": {"caption": "sin url"}},
    ]
    edges = [edge(str(i), a, b) for i, (a, b) in enumerate(zip("sdvflw", "dvflwm", strict=True))]
    problems = validate_flow(flow(nodes, edges))
    by_node = {p.node_id: p.message for p in problems}
    assert "data.duration.unit" in by_node["d"]
    assert "must be a single name" in by_node["v"]
    assert "data.fields: List should have at least 1 item" in by_node["f"]
    assert "a list needs `options` or `sections`" in by_node["l"]
    assert "data.body: unclosed" in by_node["w"]
    assert "needs `mediaUrl`" in by_node["m"]
