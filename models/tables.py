"""Tables for tenancy (organizations, users, API keys), bots, channels and flows.

Conversation-side tables (contacts, conversations, messages, flow runs) live in
`models.conversation_tables`; importing that module registers every table on `Base.metadata`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, validates

from models.db import Base

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

MEMBERSHIP_ROLES = ("owner", "admin", "agent")
CHANNEL_KINDS = ("whatsapp_cloud", "twilio", "web")


def one_of(column: str, values: Iterable[str], name: str | None = None) -> CheckConstraint:
    """A CHECK constraint that `column` holds one of `values` (named `ck_<table>_<name>`)."""
    allowed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name or column)


def cascade_to(target: str) -> ForeignKey:
    """A foreign key whose row is deleted with the row it points to."""
    return ForeignKey(target, ondelete="CASCADE")


class Organization(Base):
    """A tenant: owns bots, members and API keys."""

    __tablename__ = "organizations"

    id: Mapped[UUIDPrimaryKey]
    name: Mapped[str] = mapped_column(Text)
    slug: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[CreatedAt]


class User(Base):
    """A person who signs in; the email is stored lowercased."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lowercase"),)

    id: Mapped[UUIDPrimaryKey]
    email: Mapped[str] = mapped_column(Text, unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text, default="", server_default="")
    token_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Runs the marketplace (approves, rejects, suspends listings); set only by
    # `botbuilder admin grant EMAIL`.
    platform_admin: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    created_at: Mapped[CreatedAt]

    @validates("email")
    def _lowercase_email(self, _key: str, email: str) -> str:
        return email.strip().lower()


class Membership(Base):
    """A user's role in an organization."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "organization_id"),
        one_of("role", MEMBERSHIP_ROLES),
    )

    id: Mapped[UUIDPrimaryKey]
    user_id: Mapped[uuid.UUID] = mapped_column(cascade_to("users.id"))
    organization_id: Mapped[uuid.UUID] = mapped_column(cascade_to("organizations.id"), index=True)
    role: Mapped[str] = mapped_column(Text)
    created_at: Mapped[CreatedAt]


class ApiKey(Base):
    """An organization's API key; only its hash and a display prefix are stored."""

    __tablename__ = "api_keys"

    id: Mapped[UUIDPrimaryKey]
    organization_id: Mapped[uuid.UUID] = mapped_column(cascade_to("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text)
    key_hash: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[CreatedAt]
    revoked_at: Mapped[OptionalTimestamp]
    last_used_at: Mapped[OptionalTimestamp]


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
