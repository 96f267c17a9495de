"""Storing one message row exactly once: the INSERT the engine runs for every message.

Built once per process (one compile and cache key instead of one per message), as Core on the
table. A retried store finds the row already there: the no-op update on the unique key returns
the stored row, and `inserted` says whether this statement created it (xmax = 0).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, literal_column
from sqlalchemy.dialects.postgresql import insert

from models.conversation_tables import Message
from models.db import bound

MESSAGES = Message.__table__


def new_message(direction: str, status: str, unique: list[str], **values: Any) -> Insert:
    """The INSERT of a `direction` message stored as `status`, unique on the columns `unique`
    (`values`: other columns' values or expressions).

    Parameters: id, conversation_id, channel_id, type, content, text, provider_message_id,
    idempotency_key, sent_by_user_id. Returns id, conversation_id, status, created_at,
    idempotency_key, inserted."""
    own = MESSAGES.c[unique[-1]]  # the row's own value: a no-op update
    return (
        insert(MESSAGES)
        .values(
            direction=direction,
            status=status,
            **values,
            **bound(
                "id",
                "conversation_id",
                "channel_id",
                "type",
                "content",
                "text",
                "provider_message_id",
                "idempotency_key",
                "sent_by_user_id",
            ),
        )
        .on_conflict_do_update(index_elements=unique, set_={own.name: own})
        .returning(
            MESSAGES.c.id,
            MESSAGES.c.conversation_id,
            MESSAGES.c.status,
            MESSAGES.c.created_at,
            MESSAGES.c.idempotency_key,
            literal_column("xmax = 0").label("inserted"),
        )
    )
