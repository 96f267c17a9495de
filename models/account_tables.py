"""Tables the API adds: refresh tokens, invitations and organizations' private flow templates."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.columns import (
    CreatedAt,
    JSONObject,
    OptionalTimestamp,
    UUIDPrimaryKey,
    cascade_to,
    one_of,
)
from models.db import Base
from models.tenancy_tables import MEMBERSHIP_ROLES

TEMPLATE_DIFFICULTIES = ("beginner", "intermediate", "advanced")


class RefreshToken(Base):
    """A refresh token (only its SHA-256 is stored), valid once: using it rotates it."""

    __tablename__ = "refresh_tokens"

    id: Mapped[UUIDPrimaryKey]
    user_id: Mapped[uuid.UUID] = mapped_column(cascade_to("users.id"), index=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(cascade_to("organizations.id"))
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[OptionalTimestamp]
    created_at: Mapped[CreatedAt]


class Invitation(Base):
    """An invitation for an email address to join an organization with a role."""

    __tablename__ = "invitations"
    __table_args__ = (one_of("role", MEMBERSHIP_ROLES),)

    id: Mapped[UUIDPrimaryKey]
    organization_id: Mapped[uuid.UUID] = mapped_column(cascade_to("organizations.id"), index=True)
    email: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    invited_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[OptionalTimestamp]
    created_at: Mapped[CreatedAt]


class OrganizationTemplate(Base):
    """A flow an organization saved as a private template (`definition` in the seeds' shape)."""

    __tablename__ = "organization_templates"
    __table_args__ = (one_of("difficulty", TEMPLATE_DIFFICULTIES),)

    id: Mapped[UUIDPrimaryKey]
    organization_id: Mapped[uuid.UUID] = mapped_column(cascade_to("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    category: Mapped[str] = mapped_column(Text, default="custom", server_default="custom")
    difficulty: Mapped[str] = mapped_column(Text, default="beginner", server_default="beginner")
    definition: Mapped[JSONObject]
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[CreatedAt]


class LogInAttempt(Base):
    """Password attempts for an email from one source (a client address, or `*` for all
    sources together) since `window_started_at`; counted before the password is checked."""

    __tablename__ = "log_in_attempts"

    email: Mapped[str] = mapped_column(Text, primary_key=True)
    source: Mapped[str] = mapped_column(Text, primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
