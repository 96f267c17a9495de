"""The database side of agent actions: assignment and status, notes, tags."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from models.agent_actions import AgentAction, clean_tags
from models.conversation_tables import Conversation, ConversationNote
from models.payloads import activity_names
from services.conversations.notify import notify_conversation
from services.webhooks import outbox as webhook_outbox


def note_id(conversation_id: str, action_key: str) -> uuid.UUID:
    """The id of the note an action writes: the same on every retry of that action."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"botbuilder:note:{conversation_id}:{action_key}")


class InboxStore:
    """Writes what agents do to conversations; each change is announced on `bb_conversations`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn(name=activity_names.RECORD_AGENT_ACTION)
    async def record_agent_action(
        self, conversation_id: str, action: AgentAction, status: str | None, action_key: str
    ) -> str | None:
        """Store the action's effect; returns the note's id for a note."""
        key = uuid.UUID(conversation_id)
        agent = uuid.UUID(action.user_id) if action.user_id else None
        values: dict[str, Any] = {}
        if status is not None:
            values |= {"status": status, "closed_at": func.now() if status == "closed" else None}
        if action.kind == "take_over":
            values["assigned_user_id"] = agent
        elif action.kind == "release":
            values["assigned_user_id"] = None
        elif action.kind == "tags":
            values["tags"] = clean_tags(action.tags)
        result = None
        async with self.sessions.begin() as session:
            if action.kind == "note":
                result = note_id(conversation_id, action_key)
                await session.execute(
                    insert(ConversationNote)
                    .values(
                        id=result,
                        conversation_id=key,
                        author_user_id=agent,
                        body=(action.text or "").strip(),
                    )
                    .on_conflict_do_nothing(index_elements=["id"])
                )
            if values:
                await session.execute(
                    update(Conversation).where(Conversation.id == key).values(**values)
                )
            if status is not None:
                await webhook_outbox.conversation_event(session, key, status, action_key)
            await notify_conversation(session, conversation_id)
        return str(result) if result else None

    def activities(self) -> list[Any]:
        return [self.record_agent_action]
