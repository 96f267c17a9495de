"""Tables of bots and the channels they talk on."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.columns import CreatedAt, JSONObject, UpdatedAt, UUIDPrimaryKey, cascade_to, one_of
from models.db import Base

CHANNEL_KINDS = ("whatsapp_cloud", "twilio", "web")


class Bot(Base):
    """A bot: flows answering on channels; `default_flow_id` runs when no trigger matches."""

    __tablename__ = "bots"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[UUIDPrimaryKey]
    organization_id: Mapped[uuid.UUID] = mapped_column(cascade_to("organizations.id"))
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    settings: Mapped[JSONObject]
    default_flow_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("flows.id", ondelete="SET NULL", use_alter=True)
    )
    # No message text in Temporal's summaries and details of this bot's workflows.
    sensitive_data: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


class Channel(Base):
    """Where a bot talks; `config` is plain settings, secrets are a `SecretBox` ciphertext."""

    __tablename__ = "channels"
    __table_args__ = (one_of("kind", CHANNEL_KINDS),)

    id: Mapped[UUIDPrimaryKey]
    bot_id: Mapped[uuid.UUID] = mapped_column(cascade_to("bots.id"), index=True)
    kind: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    config: Mapped[JSONObject]
    secrets_encrypted: Mapped[str | None] = mapped_column(Text)
    # Bots as code: the environment variable each secret was read from (names, never values).
    secret_env: Mapped[JSONObject]
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    created_at: Mapped[CreatedAt]
