"""Tables for what happens at run time: contacts, conversations and agents' notes on them,
messages, flow runs and steps."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.bot_tables import CHANNEL_KINDS
from models.columns import (
    CreatedAt,
    JSONObject,
    OptionalTimestamp,
    UUIDPrimaryKey,
    cascade_to,
    one_of,
)
from models.db import Base

CONVERSATION_STATUSES = ("active", "handed_off", "abandoned", "closed")
MESSAGE_DIRECTIONS = ("inbound", "outbound")
MESSAGE_STATUSES = ("received", "pending", "sending", "sent", "delivered", "read", "failed")
FLOW_RUN_STATUSES = (
    "running",
    "waiting",
    "completed",
    "failed",
    "cancelled",
    "abandoned",
    "handed_off",
)


class Contact(Base):
    """Someone a bot talks to on one channel kind (`external_id`: phone or web session id)."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("bot_id", "channel_kind", "external_id"),
        one_of("channel_kind", CHANNEL_KINDS),
    )

    id: Mapped[UUIDPrimaryKey]
    bot_id: Mapped[uuid.UUID] = mapped_column(cascade_to("bots.id"))
    channel_kind: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[JSONObject]
    created_at: Mapped[CreatedAt]
    last_seen_at: Mapped[CreatedAt]


class Conversation(Base):
    """One contact's conversation with a bot on a channel; driven by one Temporal workflow."""

    __tablename__ = "conversations"
    __table_args__ = (
        one_of("status", CONVERSATION_STATUSES),
        Index(
            "ix_conversations_bot_status_last_message",
            "bot_id",
            "status",
            text("last_message_at DESC"),
        ),
    )

    id: Mapped[UUIDPrimaryKey]
    bot_id: Mapped[uuid.UUID] = mapped_column(cascade_to("bots.id"))
    channel_id: Mapped[uuid.UUID] = mapped_column(cascade_to("channels.id"), index=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(cascade_to("contacts.id"), index=True)
    workflow_id: Mapped[str] = mapped_column(Text, unique=True)
    status: Mapped[str] = mapped_column(Text, default="active", server_default="active")
    current_flow_run_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("flow_runs.id", ondelete="SET NULL", use_alter=True)
    )
    assigned_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    started_at: Mapped[CreatedAt]
    last_message_at: Mapped[CreatedAt]
    # when the contact last wrote (the provider's timestamp, else when stored): the WhatsApp
    # 24-hour window
    last_inbound_at: Mapped[OptionalTimestamp]
    closed_at: Mapped[OptionalTimestamp]


class Message(Base):
    """A message in or out; `content` is the typed payload, `text` its plain text for search."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel_id", "provider_message_id"),
        one_of("direction", MESSAGE_DIRECTIONS),
        one_of("status", MESSAGE_STATUSES),
        Index("ix_messages_conversation_created", "conversation_id", "created_at"),
    )

    id: Mapped[UUIDPrimaryKey]
    conversation_id: Mapped[uuid.UUID] = mapped_column(cascade_to("conversations.id"))
    channel_id: Mapped[uuid.UUID] = mapped_column(cascade_to("channels.id"))
    direction: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(Text)
    content: Mapped[JSONObject]
    text: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    provider_message_id: Mapped[str | None] = mapped_column(Text)
    # outbound: the send's key; inbound: the delivery that stored it (`<run id>/<provider id>`)
    idempotency_key: Mapped[str | None] = mapped_column(Text, unique=True)
    sent_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )  # the agent who wrote an outbound message (none: the bot)
    created_at: Mapped[CreatedAt] = mapped_column(index=True)
    status_updated_at: Mapped[CreatedAt]


class FlowRun(Base):
    """One run of a pinned flow version in a conversation; driven by one Temporal workflow."""

    __tablename__ = "flow_runs"
    __table_args__ = (
        one_of("status", FLOW_RUN_STATUSES),
        Index("ix_flow_runs_flow_started", "flow_id", "started_at"),
    )

    id: Mapped[UUIDPrimaryKey]
    conversation_id: Mapped[uuid.UUID] = mapped_column(cascade_to("conversations.id"), index=True)
    flow_id: Mapped[uuid.UUID] = mapped_column(cascade_to("flows.id"))
    flow_version_id: Mapped[uuid.UUID] = mapped_column(cascade_to("flow_versions.id"), index=True)
    workflow_id: Mapped[str] = mapped_column(Text, unique=True)
    status: Mapped[str] = mapped_column(Text, default="running", server_default="running")
    current_node_id: Mapped[str | None] = mapped_column(Text)
    variables: Mapped[JSONObject]
    started_at: Mapped[CreatedAt]
    ended_at: Mapped[OptionalTimestamp]
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class FlowRunStep(Base):
    """One executed node of a flow run; `outcome` is the handle followed, or `error`."""

    __tablename__ = "flow_run_steps"
    __table_args__ = (
        UniqueConstraint("flow_run_id", "sequence"),
        # "when did this run first run this node?" in one index probe
        Index("ix_flow_run_steps_run_node", "flow_run_id", "node_id", "sequence"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    flow_run_id: Mapped[uuid.UUID] = mapped_column(cascade_to("flow_runs.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    node_id: Mapped[str] = mapped_column(Text, index=True)
    node_type: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[CreatedAt]
    ended_at: Mapped[OptionalTimestamp]
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    output: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # e.g. a sent email's id


DELIVERY_STATUSES = ("sent", "delivered", "read", "failed")


class MessageStatusEvent(Base):
    """A provider's delivery report, kept even when it arrives before the send is recorded."""

    __tablename__ = "message_status_events"
    __table_args__ = (
        UniqueConstraint("channel_id", "provider_message_id", "status"),
        one_of("status", DELIVERY_STATUSES),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    channel_id: Mapped[uuid.UUID] = mapped_column(cascade_to("channels.id"))
    provider_message_id: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    received_at: Mapped[CreatedAt]


class SendSlot(Base):
    """The next free moment for a sender number: every worker process paces against it."""

    __tablename__ = "send_slots"

    sender: Mapped[str] = mapped_column(Text, primary_key=True)
    next_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ConversationNote(Base):
    """An agent's private note on a conversation (the contact never sees it)."""

    __tablename__ = "conversation_notes"

    id: Mapped[UUIDPrimaryKey]
    conversation_id: Mapped[uuid.UUID] = mapped_column(cascade_to("conversations.id"), index=True)
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[CreatedAt]


import models.account_tables  # noqa: E402
import models.analytics_tables  # noqa: E402  (registers the other tables on Base.metadata)
import models.bot_tables  # noqa: E402
import models.flow_tables  # noqa: E402
import models.integration_tables  # noqa: E402
import models.marketplace_tables  # noqa: E402
import models.outreach_tables  # noqa: E402
import models.tenancy_tables  # noqa: E402
import models.trigger_tables  # noqa: E402
import models.webhook_tables  # noqa: E402, F401
