"""Tables of flows: a flow's editable draft and its published, immutable versions."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Integer, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.columns import CreatedAt, JSONObject, UpdatedAt, UUIDPrimaryKey, cascade_to
from models.db import Base


class Flow(Base):
    """A flow's editable draft (`definition`: nodes, edges, variables) and its trigger."""

    __tablename__ = "flows"
    __table_args__ = (UniqueConstraint("bot_id", "name"),)

    id: Mapped[UUIDPrimaryKey]
    bot_id: Mapped[uuid.UUID] = mapped_column(cascade_to("bots.id"))
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    trigger: Mapped[JSONObject]
    definition: Mapped[JSONObject]
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    published_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("flow_versions.id", ondelete="SET NULL", use_alter=True)
    )
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


class FlowVersion(Base):
    """A published snapshot of a flow; never updated once written (runs are pinned to it)."""

    __tablename__ = "flow_versions"
    __table_args__ = (UniqueConstraint("flow_id", "version"),)

    id: Mapped[UUIDPrimaryKey]
    flow_id: Mapped[uuid.UUID] = mapped_column(cascade_to("flows.id"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[JSONObject]
    trigger: Mapped[JSONObject]
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    message: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[CreatedAt]
