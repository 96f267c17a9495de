"""Texts PostgreSQL cannot store: a NUL character or an unpaired surrogate (from JSON escapes)."""

from __future__ import annotations

import re
from typing import Any

UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
PROBLEM = "contains a NUL character or an unpaired surrogate, which cannot be stored; remove it"


def unstorable_path(value: Any, path: str) -> str | None:
    """The path of the first unstorable text (or key) inside a JSON-like value, if any."""
    if isinstance(value, str):
        return path if UNSTORABLE.search(value) else None
    if isinstance(value, dict):
        items = list(value.items())
        if any(UNSTORABLE.search(str(key)) for key in value):
            return path
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return None
    for key, item in items:
        if found := unstorable_path(item, f"{path}.{key}" if path else str(key)):
            return found
    return None


def storable(value: str | None) -> str | None:
    """A pydantic validator: the text unchanged, or ValueError when it cannot be stored."""
    if value is not None and UNSTORABLE.search(value):
        raise ValueError(PROBLEM)
    return value
