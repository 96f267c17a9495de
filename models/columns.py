"""Column types and constraint helpers every table module shares: UUID primary keys,
timestamps, JSON objects, `one_of` CHECK constraints and cascading foreign keys."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import mapped_column

UUIDPrimaryKey = Annotated[
    uuid.UUID,
    mapped_column(primary_key=True, default=uuid.uuid4, server_default=text("gen_random_uuid()")),
]
CreatedAt = Annotated[datetime, mapped_column(DateTime(timezone=True), server_default=func.now())]
UpdatedAt = Annotated[
    datetime,
    mapped_column(DateTime(timezone=True), server_default=func.now(), onupdate=func.now()),
]
OptionalTimestamp = Annotated[datetime | None, mapped_column(DateTime(timezone=True))]
JSONObject = Annotated[
    dict[str, Any], mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
]


def one_of(column: str, values: Iterable[str], name: str | None = None) -> CheckConstraint:
    """A CHECK constraint that `column` holds one of `values` (named `ck_<table>_<name>`)."""
    allowed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name or column)


def cascade_to(target: str) -> ForeignKey:
    """A foreign key whose row is deleted with the row it points to."""
    return ForeignKey(target, ondelete="CASCADE")
