"""Checking a contact's free-text answer: text, number, email, phone, date, choice or regex."""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any, Literal, get_args

from pydantic import Field, model_validator

from flowlang.expressions import MAX_MATCH_INPUT, as_number, check_regex
from flowlang.node_base import NodeData, RegexPattern, Template

AnswerType = Literal["text", "number", "email", "phone", "date", "choice", "regex"]
ANSWER_TYPES: tuple[str, ...] = get_args(AnswerType)

_HINTS: dict[str, str] = {
    "text": "Por favor, escribe una respuesta.",
    "number": "Por favor, responde con un número.",
    "email": "Por favor, escribe un correo electrónico válido.",
    "phone": "Por favor, escribe un número de teléfono válido.",
    "date": "Por favor, escribe una fecha válida (DD/MM/AAAA).",
    "choice": "Por favor, elige una de las opciones.",
    "regex": "La respuesta no tiene el formato esperado.",
}
CHOOSE_AN_OPTION = _HINTS["choice"]


class InvalidAnswer(ValueError):
    """The answer does not pass its check; the message tells the contact what is expected."""


class AnswerCheck(NodeData):
    """How to check an answer. A bare string such as `"email"` means `{"type": "email"}`."""

    type: AnswerType = "text"
    pattern: RegexPattern | None = None
    choices: list[str] = Field(default_factory=list)
    message: Template | None = Field(default=None, description="Shown when the check fails.")

    @model_validator(mode="before")
    @classmethod
    def _from_type_name(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _needs_its_parameter(self) -> AnswerCheck:
        if self.type == "regex" and not self.pattern:
            raise ValueError("a regex check needs a `pattern`")
        if self.type == "choice" and not self.choices:
            raise ValueError("a choice check needs `choices`")
        return self


def normalize(text: str) -> str:
    """Text reduced for loose matching: no accents, emoji, punctuation or case."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = (
        char if unicodedata.category(char)[0] in "LN" else " "
        for char in decomposed
        if unicodedata.category(char) != "Mn"
    )
    return " ".join("".join(kept).casefold().split())


def check_answer(check: AnswerCheck, text: str) -> Any:
    """The answer as its type's value (a number, an ISO date …); raises `InvalidAnswer`."""
    text = text.strip()
    value = _CHECKERS[check.type](check, text) if text else None
    if value is None:
        raise InvalidAnswer(_HINTS[check.type])
    return value


def _text(_: AnswerCheck, text: str) -> str:
    return text


def _number(_: AnswerCheck, text: str) -> int | float | None:
    number = as_number(text.replace(",", ".").replace(" ", ""))
    if number is None:
        return None
    return int(number) if number.is_integer() else number


def _email(_: AnswerCheck, text: str) -> str | None:
    local, at, domain = text.partition("@")
    labels = domain.split(".")
    valid = (
        at
        and local
        and len(labels) >= 2
        and all(labels)
        and not any(char.isspace() or char == "@" for char in local + domain)
    )
    return text.lower() if valid else None


def _phone(_: AnswerCheck, text: str) -> str | None:
    plus = text.startswith("+")
    digits = "".join(char for char in text.lstrip("+") if char not in " -().")
    if digits.isascii() and digits.isdigit() and 7 <= len(digits) <= 15:
        return ("+" if plus else "") + digits
    return None


def _date(_: AnswerCheck, text: str) -> str | None:
    """`YYYY-MM-DD`, or day first: `DD/MM/YYYY`, `DD-MM-YYYY`, `DD.MM.YYYY`."""
    for separator in "-/.":
        parts = text.split(separator)
        if len(parts) == 3 and all(part.isascii() and part.isdigit() for part in parts):
            numbers = [int(part) for part in parts]
            year, month, day = numbers if len(parts[0]) == 4 else numbers[::-1]
            if year < 1000:
                return None
            try:
                return date(year, month, day).isoformat()
            except ValueError:
                return None
    return None


def _choice(check: AnswerCheck, text: str) -> str | None:
    wanted = normalize(text)
    if wanted.isdigit() and 1 <= int(wanted) <= len(check.choices):
        return check.choices[int(wanted) - 1]
    return next((choice for choice in check.choices if normalize(choice) == wanted), None)


def _regex(check: AnswerCheck, text: str) -> str | None:
    """The whole answer must match the pattern."""
    if len(text) > MAX_MATCH_INPUT:
        return None
    return text if check_regex(check.pattern or "").fullmatch(text) else None


_CHECKERS = {
    "text": _text,
    "number": _number,
    "email": _email,
    "phone": _phone,
    "date": _date,
    "choice": _choice,
    "regex": _regex,
}
