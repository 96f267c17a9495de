"""The template and condition evaluator: what flows can write, and what they cannot."""

from __future__ import annotations

import time

import pytest

from flowlang.expressions import (
    ExpressionError,
    check_regex,
    check_template,
    compile_expression,
    evaluate,
    render,
    render_data,
)

SCOPE = {
    "name": "Ana",
    "age": "42",
    "score": 7.0,
    "opted_in": True,
    "tags": ["vip", "es"],
    "contact": {"name": "Ana López", "phone": "+34600111222"},
    "last_reply": "Quiero un Descuento",
    "api": {"status": 200, "response": {"total": 3, "items": [{"name": "Laptop"}]}},
}


def test_render_fills_paths_and_leaves_missing_values_empty() -> None:
    template = "Hola {{ contact.name }}, {{api.response.items.0.name}} x{{api.response.total}}"
    assert render(template, SCOPE) == "Hola Ana López, Laptop x3"
    assert render("[{{missing.deep.path}}]", SCOPE) == "[]"
    assert render("{{ api.response.items[0].name }}", SCOPE) == "Laptop"
    assert render("{{score}} {{opted_in}} {{tags}}", SCOPE) == '7 true ["vip", "es"]'
    assert render("{{api.response.items.5.name}}", SCOPE) == ""


def test_render_keeps_text_that_is_not_a_placeholder() -> None:
    assert render("precio: {{ 2 + 2 }} y {{", SCOPE) == "precio: {{ 2 + 2 }} y {{"
    assert render("no templates", {}) == "no templates"


def test_render_data_renders_nested_json() -> None:
    body = {"to": "{{contact.phone}}", "items": ["{{name}}", 1, None]}
    assert render_data(body, SCOPE) == {"to": "+34600111222", "items": ["Ana", 1, None]}


def test_check_template_explains_a_bad_placeholder() -> None:
    check_template("Hola {{name}}")
    with pytest.raises(ExpressionError, match="unclosed"):
        check_template("Hola {{name")
    with pytest.raises(ExpressionError, match="invalid variable path"):
        check_template("Hola {{ a b }}")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("{{age}} > 18", True),
        ("age >= 42 and age <= 42", True),
        ("age == 42.0", True),
        ("age < 9", False),
        ("score != 7", False),
        ("name == 'Ana'", True),
        ('name == "ana"', False),
        ("last_reply contains 'descuento'", True),
        ("tags contains 'vip'", True),
        ("api.response contains 'total'", True),
        ("contact.phone matches '^\\+34'", True),
        ("not opted_in", False),
        ("!opted_in || name === 'Ana'", True),
        ("missing == null", True),
        ("missing == ''", True),
        ("(age > 50 or score > 5) and not (name == 'Bob')", True),
        ("opted_in == true", True),
        ("score > -1.5", True),
        ("api.status", 200),
        ("'b' > 'a'", True),
        ("name > 3", False),
    ],
)
def test_conditions(expression: str, expected: object) -> None:
    assert evaluate(expression, SCOPE) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("age >", "unexpected end of expression"),
        ("(age > 1", "expected '\\)'"),
        ("age > 1)", "unexpected '\\)'"),
        ("name == 'Ana", "unclosed string"),
        ("age ** 2", "unexpected character '\\*'"),
        ("", "empty expression"),
        ("1.2.3 == 1", "invalid number"),
        ("name matches '(?<=a)b'", "invalid perl operator"),
        ("name matches '('", "invalid regular expression"),
        ("(" * 40 + "1" + ")" * 40, "nested deeper"),
        ("x" * 3000, "longer than"),
    ],
)
def test_bad_expressions_fail_at_compile_time_with_a_reason(expression: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        compile_expression(expression)


def test_patterns_run_in_linear_time_and_re2_refuses_what_it_cannot_run() -> None:
    assert check_regex(r"^\d{5}$").match("28001")
    assert check_regex(r"(ab){3}").match("ababab")
    for pattern, text in [(".*.*.*;", "a" * 4096), (r"(a+)+$", "a" * 4095 + "b")]:
        started = time.monotonic()
        assert evaluate(f"text matches '{pattern}'", {"text": text}) is False
        assert time.monotonic() - started < 1
    for pattern in [r"(?<!a)b", r"(a)\1", "x" * 201]:
        with pytest.raises(ExpressionError):
            check_regex(pattern)


def test_matches_on_a_long_input_is_bounded() -> None:
    scope = {"text": "a" * 100_000}
    assert evaluate("text matches 'a{10}'", scope) is True


def test_a_bad_pattern_from_a_variable_matches_nothing() -> None:
    assert evaluate("text matches pattern", {"text": "aaaa", "pattern": r"(a)\1"}) is False
