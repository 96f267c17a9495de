"""Tables of tenancy: organizations, users, their memberships (roles) and the organizations'
API keys."""

from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, Integer, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, validates

from models.columns import CreatedAt, OptionalTimestamp, UUIDPrimaryKey, cascade_to, one_of
from models.db import Base

MEMBERSHIP_ROLES = ("owner", "admin", "agent")


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
