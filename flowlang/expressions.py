"""The safe, deterministic evaluator for `{{ path }}` templates and branch conditions.

A hand-written tokenizer and recursive-descent parser; no `eval`, no clock, no randomness.
Work is bounded: inputs and regular expressions have length caps, nesting has a depth cap,
evaluation counts its steps, and regular expressions run on RE2, in time linear in the text.

Conditions support literals (numbers, 'single' / "double" strings, true/false/null), dotted
paths with integer indexes (`api.response.items.0.name`, `items[0]`, `{{ var }}`), the
comparisons `== != < > <= >=` (also `===`/`!==`), `contains`, `matches`, `and or not` (also
`&& || !`) and parentheses. Two values that both look numeric (e.g. the reply "42") compare
as numbers; `contains` is case-insensitive on text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import re2

from models.patterns import PatternError, compile_pattern

MAX_EXPRESSION_LENGTH = 2_000
MAX_TEMPLATE_LENGTH = 20_000
MAX_DEPTH = 32
MAX_STEPS = 10_000
MAX_MATCH_INPUT = 4_096

Path = tuple[str | int, ...]


class ExpressionError(ValueError):
    """A template or expression that cannot be parsed or evaluated."""


# ---------------------------------------------------------------- paths and values


def parse_path(text: str) -> Path:
    """`a.b.0.c` or `a.b[0].c` as segments; integers become list indexes."""
    text = text.strip()
    if not text:
        raise ExpressionError("empty variable path")
    segments: list[str | int] = []
    for dotted in text.replace("[", ".").replace("]", "").split("."):
        if _is_digits(dotted):
            segments.append(int(dotted))
        elif dotted and _is_identifier(dotted):
            segments.append(dotted)
        else:
            raise ExpressionError(f"invalid variable path {text!r}")
    if isinstance(segments[0], int):
        raise ExpressionError(f"variable path {text!r} must start with a name")
    return tuple(segments)


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _is_identifier(text: str) -> bool:
    first = text[0]
    return (first.isalpha() or first == "_") and all(c.isalnum() or c in "_-" for c in text)


def resolve(scope: Any, path: Path) -> Any:
    """The value at `path` inside nested dicts and lists; None when any step is missing."""
    value = scope
    for segment in path:
        if isinstance(value, dict):
            value = value.get(str(segment))
        elif isinstance(value, list | tuple) and isinstance(segment, int):
            value = value[segment] if segment < len(value) else None
        else:
            return None
    return value


def to_text(value: Any) -> str:
    """How a value reads in a message: None is empty, booleans are true/false, 3.0 is 3."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def is_truthy(value: Any) -> bool:
    """JavaScript-like truthiness: None, false, 0, "" and empty collections are false."""
    return bool(value)


def as_number(value: Any) -> float | None:
    """A number for numbers and numeric-looking text ("42", "-1.5"), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        body = text[1:] if text[:1] in "+-" else text
        integer, _, fraction = body.partition(".")
        if _is_digits(integer + fraction) and len(body) <= 30:
            return float(text)
    return None


# ---------------------------------------------------------------- templates


def render(template: str, scope: dict[str, Any]) -> str:
    """Replace every `{{ path }}` by its value in `scope` (missing values render empty)."""
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise ExpressionError(f"template longer than {MAX_TEMPLATE_LENGTH} characters")
    out: list[str] = []
    for literal, path in _template_parts(template):
        out.append(literal)
        if path is not None:
            out.append(to_text(resolve(scope, path)))
    return "".join(out)


def render_data(value: Any, scope: dict[str, Any]) -> Any:
    """Render every string inside nested dicts and lists (keys are rendered too)."""
    if isinstance(value, str):
        return render(value, scope)
    if isinstance(value, dict):
        return {render(str(k), scope): render_data(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [render_data(item, scope) for item in value]
    return value


def check_templates_in(value: Any) -> Any:
    """`check_template` on every string inside nested dicts and lists."""
    if isinstance(value, str):
        check_template(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_template(str(key))
            check_templates_in(item)
    elif isinstance(value, list):
        for item in value:
            check_templates_in(item)
    return value


def check_template(template: str) -> str:
    """Raise `ExpressionError` when a template has an unclosed or invalid `{{ }}`."""
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise ExpressionError(f"template longer than {MAX_TEMPLATE_LENGTH} characters")
    _template_parts(template, strict=True)
    return template


@lru_cache(maxsize=1024)
def _template_parts(template: str, strict: bool = False) -> tuple[tuple[str, Path | None], ...]:
    """The template as (literal text, path or None) pairs; invalid placeholders stay literal."""
    parts: list[tuple[str, Path | None]] = []
    position = 0
    while True:
        start = template.find("{{", position)
        if start < 0:
            parts.append((template[position:], None))
            return tuple(parts)
        end = template.find("}}", start + 2)
        if end < 0:
            if strict:
                raise ExpressionError(f"unclosed '{{{{' at character {start + 1}")
            parts.append((template[position:], None))
            return tuple(parts)
        try:
            path = parse_path(template[start + 2 : end])
        except ExpressionError as error:
            if strict:
                raise ExpressionError(f"{error} at character {start + 1}") from None
            parts.append((template[position : end + 2], None))
        else:
            parts.append((template[position:start], path))
        position = end + 2


# ---------------------------------------------------------------- regular expressions


def check_regex(pattern: str) -> re2._Regexp:
    """Compile a user-supplied pattern with RE2 (linear-time matching, see `models.patterns`)."""
    try:
        return compile_pattern(pattern)
    except PatternError as error:
        raise ExpressionError(str(error)) from None


def regex_matches(pattern: str, text: str) -> bool:
    """Whether `pattern` is found in `text` (truncated to `MAX_MATCH_INPUT` characters).

    A pattern refused by `check_regex` (only possible when it comes from a variable: literal
    patterns are checked when the expression is compiled) matches nothing.
    """
    try:
        compiled = check_regex(pattern)
    except ExpressionError:
        return False
    return compiled.search(text[:MAX_MATCH_INPUT]) is not None


# ---------------------------------------------------------------- conditions: tokenizer

_WORD_OPERATORS = {"and", "or", "not", "contains", "matches"}
_LITERAL_WORDS: dict[str, Any] = {"true": True, "false": False, "null": None}
_SYMBOLS = ("===", "!==", "==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")", "-")
_SYMBOL_ALIASES = {"===": "==", "!==": "!=", "&&": "and", "||": "or", "!": "not"}


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "string", "path", "literal", "op", "end"
    value: Any
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif _is_digits(char):
            j = i
            while j < len(text) and (_is_digits(text[j]) or text[j] == "."):
                j += 1
            number = as_number(text[i:j])
            if number is None:
                raise ExpressionError(f"invalid number {text[i:j]!r} at character {i + 1}")
            tokens.append(_Token("number", number, i))
            i = j
        elif char in "'\"":
            i = _read_string(text, i, tokens)
        elif text.startswith("{{", i):
            end = text.find("}}", i)
            if end < 0:
                raise ExpressionError(f"unclosed '{{{{' at character {i + 1}")
            tokens.append(_Token("path", parse_path(text[i + 2 : end]), i))
            i = end + 2
        elif char.isalpha() or char == "_":
            j = i
            while j < len(text) and (text[j].isalnum() or text[j] in "_.[]"):
                j += 1
            word = text[i:j]
            if word in _WORD_OPERATORS:
                tokens.append(_Token("op", word, i))
            elif word in _LITERAL_WORDS:
                tokens.append(_Token("literal", _LITERAL_WORDS[word], i))
            else:
                tokens.append(_Token("path", parse_path(word), i))
            i = j
        else:
            symbol = next((s for s in _SYMBOLS if text.startswith(s, i)), None)
            if symbol is None:
                raise ExpressionError(f"unexpected character {char!r} at character {i + 1}")
            tokens.append(_Token("op", _SYMBOL_ALIASES.get(symbol, symbol), i))
            i += len(symbol)
    tokens.append(_Token("end", None, len(text)))
    return tokens


def _read_string(text: str, start: int, tokens: list[_Token]) -> int:
    quote = text[start]
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and text[i + 1 : i + 2] in (quote, "\\"):
            chars.append(text[i + 1])  # \' and \\ are escapes; other backslashes stay (regexes)
            i += 2
        elif char == quote:
            tokens.append(_Token("string", "".join(chars), start))
            return i + 1
        else:
            chars.append(char)
            i += 1
    raise ExpressionError(f"unclosed string starting at character {start + 1}")


# ---------------------------------------------------------------- conditions: parser

# An expression tree: ("value", v) | ("path", p) | ("not", e) | (op, left, right).
Node = tuple[Any, ...]
_COMPARISONS = {"==", "!=", "<", ">", "<=", ">=", "contains", "matches"}


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Node:
        tree = self.binary(0)
        token = self.peek()
        if token.kind != "end":
            raise _unexpected(token)
        return tree

    def binary(self, level: int) -> Node:
        """Level 0 parses `or`, level 1 parses `and`."""
        operator = ("or", "and")[level]
        parse_operand = self.not_expr if level == 1 else lambda: self.binary(1)
        left = parse_operand()
        while self.peek().kind == "op" and self.peek().value == operator:
            self.take()
            left = (operator, left, parse_operand())
        return left

    def not_expr(self) -> Node:
        if self.peek().kind == "op" and self.peek().value == "not":
            self.take()
            return ("not", self.nested(self.not_expr))
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        token = self.peek()
        if token.kind == "op" and token.value in _COMPARISONS:
            self.take()
            right = self.operand()
            if token.value == "matches" and right[0] == "value":
                if not isinstance(right[1], str):
                    raise ExpressionError("'matches' needs a string pattern")
                check_regex(right[1])
            return (token.value, left, right)
        return left

    def operand(self) -> Node:
        token = self.take()
        if token.kind in ("number", "string", "literal"):
            return ("value", token.value)
        if token.kind == "path":
            return ("path", token.value)
        if token.kind == "op" and token.value == "-" and self.peek().kind == "number":
            return ("value", -self.take().value)
        if token.kind == "op" and token.value == "(":
            inner = self.nested(lambda: self.binary(0))
            closing = self.take()
            if closing.kind != "op" or closing.value != ")":
                raise ExpressionError(
                    f"expected ')' but found {_describe(closing)} at character "
                    f"{closing.position + 1}"
                )
            return inner
        raise _unexpected(token)

    def nested(self, parse: Callable[[], Node]) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"expression nested deeper than {MAX_DEPTH} levels")
        try:
            return parse()
        finally:
            self.depth -= 1


def _unexpected(token: _Token) -> ExpressionError:
    return ExpressionError(f"unexpected {_describe(token)} at character {token.position + 1}")


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "end of expression"
    if token.kind == "op":
        return f"'{token.value}'"
    return f"{token.kind} {token.value!r}"


@dataclass(frozen=True)
class Expression:
    """A parsed condition, ready to evaluate against any scope."""

    source: str
    tree: Node

    def evaluate(self, scope: dict[str, Any]) -> Any:
        steps = [0]
        return _eval(self.tree, scope, steps)


@lru_cache(maxsize=1024)
def compile_expression(expression: str) -> Expression:
    """Parse a condition; raise `ExpressionError` with a readable message when it is invalid."""
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
    if not expression.strip():
        raise ExpressionError("empty expression")
    return Expression(expression, _Parser(expression).parse())


def evaluate(expression: str, scope: dict[str, Any]) -> Any:
    """The value of a condition in `scope`."""
    return compile_expression(expression).evaluate(scope)


# ---------------------------------------------------------------- conditions: evaluation


def _eval(tree: Node, scope: dict[str, Any], steps: list[int]) -> Any:
    steps[0] += 1
    if steps[0] > MAX_STEPS:
        raise ExpressionError("expression takes too many steps")
    kind = tree[0]
    if kind == "value":
        return tree[1]
    if kind == "path":
        return resolve(scope, tree[1])
    if kind == "not":
        return not is_truthy(_eval(tree[1], scope, steps))
    if kind == "and":
        left = _eval(tree[1], scope, steps)
        return _eval(tree[2], scope, steps) if is_truthy(left) else left
    if kind == "or":
        left = _eval(tree[1], scope, steps)
        return left if is_truthy(left) else _eval(tree[2], scope, steps)
    return _compare(kind, _eval(tree[1], scope, steps), _eval(tree[2], scope, steps))


def _compare(operator: str, left: Any, right: Any) -> bool:
    if operator == "==":
        return values_equal(left, right)
    if operator == "!=":
        return not values_equal(left, right)
    if operator == "contains":
        return _contains(left, right)
    if operator == "matches":
        return isinstance(right, str) and regex_matches(right, to_text(left))
    return _order(operator, left, right)


def values_equal(left: Any, right: Any) -> bool:
    """Numbers (or numeric text) by value, otherwise by their text: `"true" == true`."""
    left_number, right_number = as_number(left), as_number(right)
    if left_number is not None and right_number is not None:
        return left_number == right_number
    if type(left) is type(right):
        return bool(left == right)
    return to_text(left) == to_text(right)


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return to_text(item).casefold() in container.casefold()
    if isinstance(container, list | tuple):
        return any(values_equal(element, item) for element in container)
    if isinstance(container, dict):
        return to_text(item) in container
    return False


def _order(operator: str, left: Any, right: Any) -> bool:
    left_number, right_number = as_number(left), as_number(right)
    if left_number is not None and right_number is not None:
        a, b = left_number, right_number
    elif isinstance(left, str) and isinstance(right, str):
        a, b = left, right  # type: ignore[assignment]
    else:
        return False
    if operator == "<":
        return a < b
    if operator == ">":
        return a > b
    if operator == "<=":
        return a <= b
    return a >= b
