"""Ids from clients, for GraphQL and HTTP alike."""

from __future__ import annotations

import uuid

from models.errors import NotFound


def parse_id(value: str, what: str) -> uuid.UUID:
    """An id from a client; a malformed one answers exactly like a missing object."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"no such {what}") from None
