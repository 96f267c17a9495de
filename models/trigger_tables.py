"""Tables of signed incoming triggers: a flow's own signing secret, and the `webhook-id`s it has
accepted recently (each is accepted once)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.columns import CreatedAt, cascade_to
from models.db import Base


class FlowTriggerSecret(Base):
    """A flow's `whsec_` secret (encrypted), an alternative to an API key for its triggers."""

    __tablename__ = "flow_trigger_secrets"

    flow_id: Mapped[uuid.UUID] = mapped_column(cascade_to("flows.id"), primary_key=True)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[CreatedAt]


class AcceptedTriggerId(Base):
    """A `webhook-id` a flow's signed trigger accepted; kept while a replay could still pass the
    timestamp check."""

    __tablename__ = "accepted_trigger_ids"

    flow_id: Mapped[uuid.UUID] = mapped_column(cascade_to("flows.id"), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(Text, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
