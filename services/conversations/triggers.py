"""Which published flow answers an inbound message: keywords, patterns, then the default flow."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from pydantic import BaseModel

from models.patterns import PatternError, compile_pattern

MAX_PATTERN_INPUT = 4_096


class FlowCandidate(BaseModel):
    """A published flow with its trigger, as trigger matching sees it."""

    flow_id: str
    priority: int
    trigger: dict[str, Any]
    is_default: bool


def normalize(text: str) -> str:
    """Lower case, accents removed, spaces collapsed: how keywords are compared."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.split())


def keyword_matches(keyword: str, text: str) -> bool:
    """True when the keyword appears in the text as whole words."""
    wanted = normalize(keyword)
    if not wanted:
        return False
    return re.search(rf"(?<!\w){re.escape(wanted)}(?!\w)", normalize(text)) is not None


def trigger_matches(trigger: dict[str, Any], text: str) -> bool:
    keywords = trigger.get("keywords") or []
    if any(keyword_matches(str(keyword), text) for keyword in keywords):
        return True
    pattern = trigger.get("pattern")
    if pattern:
        try:
            compiled = compile_pattern(str(pattern), ignore_case=True)
        except PatternError:
            return False
        return compiled.search(text[:MAX_PATTERN_INPUT]) is not None
    return False


def choose_flow(candidates: list[FlowCandidate], text: str) -> str | None:
    """The flow id to start: highest-priority trigger match, else the bot's default flow."""
    ordered = sorted(candidates, key=lambda candidate: -candidate.priority)
    for candidate in ordered:
        if trigger_matches(candidate.trigger, text):
            return candidate.flow_id
    defaults = [c for c in ordered if c.is_default or c.trigger.get("type") == "default"]
    return defaults[0].flow_id if defaults else None
