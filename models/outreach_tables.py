"""Tables of proactive starts: outreaches and their contacts."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.columns import CreatedAt, OptionalTimestamp, UUIDPrimaryKey, cascade_to, one_of
from models.db import Base

OUTREACH_STATUSES = ("running", "completed")
OUTREACH_CONTACT_STATUSES = ("pending", "started", "failed")


class Outreach(Base):
    """A proactive start of a flow for a list of contacts on one channel (one workflow)."""

    __tablename__ = "outreaches"
    __table_args__ = (one_of("status", OUTREACH_STATUSES),)

    id: Mapped[UUIDPrimaryKey]
    bot_id: Mapped[uuid.UUID] = mapped_column(cascade_to("bots.id"), index=True)
    channel_id: Mapped[uuid.UUID] = mapped_column(cascade_to("channels.id"))
    flow_id: Mapped[uuid.UUID] = mapped_column(cascade_to("flows.id"))
    flow_version_id: Mapped[uuid.UUID] = mapped_column(cascade_to("flow_versions.id"))
    workflow_id: Mapped[str] = mapped_column(Text, unique=True)
    status: Mapped[str] = mapped_column(Text, default="running", server_default="running")
    messages_per_second: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[CreatedAt]
    finished_at: Mapped[OptionalTimestamp]


class OutreachContact(Base):
    """One contact of an outreach, in list order; `error` says why its start failed."""

    __tablename__ = "outreach_contacts"
    __table_args__ = (
        UniqueConstraint("outreach_id", "position"),
        one_of("status", OUTREACH_CONTACT_STATUSES),
    )

    id: Mapped[UUIDPrimaryKey]
    outreach_id: Mapped[uuid.UUID] = mapped_column(cascade_to("outreaches.id"))
    position: Mapped[int] = mapped_column(Integer)
    external_id: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, default="pending", server_default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    updated_at: Mapped[OptionalTimestamp]
