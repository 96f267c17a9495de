"""What an agent may do to a conversation, and when it may not (shared by API and workflow)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

AgentActionKind = Literal["take_over", "send", "note", "tags", "release", "close"]
MAX_AGENT_TEXT = 4096
MAX_NOTE = 10_000
MAX_TAGS = 20
MAX_TAG_LENGTH = 64


class AgentAction(BaseModel):
    """What an agent does to a conversation; `user_id` is the agent (none for an API key)."""

    kind: AgentActionKind
    user_id: str | None = None
    text: str | None = None  # `send`: the message; `note`: the note
    tags: list[str] = Field(default_factory=list)  # `tags`: the conversation's new tags
    release_mode: Literal["resume", "end"] = "resume"


def agent_action_problem(action: AgentAction, handed_off: bool) -> str | None:
    """Why `action` cannot be done now (a message for the agent), or None."""
    text = (action.text or "").strip()
    if action.kind == "send":
        if not text:
            return "the message is empty"
        if len(text) > MAX_AGENT_TEXT:
            return f"the message is longer than {MAX_AGENT_TEXT} characters"
        if not handed_off:
            return "take the conversation over before writing to the contact"
    if action.kind == "note" and not text:
        return "the note is empty"
    if action.kind == "note" and len(text) > MAX_NOTE:
        return f"the note is longer than {MAX_NOTE} characters"
    if action.kind == "tags":
        if len(action.tags) > MAX_TAGS:
            return f"a conversation has at most {MAX_TAGS} tags"
        if any(not tag.strip() or len(tag) > MAX_TAG_LENGTH for tag in action.tags):
            return f"a tag is 1 to {MAX_TAG_LENGTH} characters"
    if action.kind == "release" and not handed_off:
        return "the bot already has this conversation: there is nothing to release"
    return None


def clean_tags(tags: list[str]) -> list[str]:
    """Tags stripped, without duplicates, in their first order."""
    return list(dict.fromkeys(tag.strip() for tag in tags))
