"""Analytics rollups: counters per UTC hour, so reports never scan raw rows; and the outbox
they are kept from (facts written by triggers in the transactions that record messages,
conversations, flow runs and steps, folded in by the worker's drainer).

Hourly UTC buckets can be regrouped into days and hours of any whole-hour time zone; see
README "Analytics" for zones with a half-hour offset.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, Index, SmallInteger, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.columns import cascade_to
from models.db import Base

# Upper bounds (milliseconds) of the bot response time histogram; a last bucket holds the rest.
RESPONSE_BUCKETS_MS = (500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000)
# Hot counters (a bot's, flow's, node's, edge's, keyword's or answer's current hour) are split
# over this many rows, picked at random per write, so concurrent transactions seldom wait on
# the same row; reports sum them.
SHARDS = 8
RESPONSE_BUCKET_COLUMNS = tuple(f"response_bucket_{i}" for i in range(len(RESPONSE_BUCKETS_MS) + 1))


def shard() -> Mapped[int]:
    return mapped_column(SmallInteger, primary_key=True, default=0, server_default=text("0"))


def counter() -> Mapped[int]:
    return mapped_column(BigInteger, default=0, server_default=text("0"))


class BotHour(Base):
    """What happened with a bot in one UTC hour."""

    __tablename__ = "analytics_bot_hours"

    bot_id: Mapped[uuid.UUID] = mapped_column(cascade_to("bots.id"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    shard: Mapped[int] = shard()
    messages_in: Mapped[int] = counter()
    messages_out: Mapped[int] = counter()
    new_contacts: Mapped[int] = counter()
    conversations_started: Mapped[int] = counter()
    conversations_completed: Mapped[int] = counter()
    conversations_abandoned: Mapped[int] = counter()
    conversations_handed_off: Mapped[int] = counter()
    errors: Mapped[int] = counter()
    response_ms_sum: Mapped[int] = counter()
    responses: Mapped[int] = counter()
    response_bucket_0: Mapped[int] = counter()
    response_bucket_1: Mapped[int] = counter()
    response_bucket_2: Mapped[int] = counter()
    response_bucket_3: Mapped[int] = counter()
    response_bucket_4: Mapped[int] = counter()
    response_bucket_5: Mapped[int] = counter()
    response_bucket_6: Mapped[int] = counter()
    response_bucket_7: Mapped[int] = counter()
    response_bucket_8: Mapped[int] = counter()


class ContactHour(Base):
    """A contact wrote to a bot in this UTC hour (`contact_since`: when the contact was new)."""

    __tablename__ = "analytics_contact_hours"

    bot_id: Mapped[uuid.UUID] = mapped_column(cascade_to("bots.id"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(cascade_to("contacts.id"), primary_key=True)
    contact_since: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class KeywordHour(Base):
    """Flow starts per triggering text (normalized) in one UTC hour."""

    __tablename__ = "analytics_keyword_hours"

    bot_id: Mapped[uuid.UUID] = mapped_column(cascade_to("bots.id"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    keyword: Mapped[str] = mapped_column(Text, primary_key=True)
    shard: Mapped[int] = shard()
    n: Mapped[int] = counter()


class FlowHour(Base):
    """Runs of a flow started and ended (by how) in one UTC hour."""

    __tablename__ = "analytics_flow_hours"
    __table_args__ = (Index("ix_analytics_flow_hours_bot_hour", "bot_id", "hour"),)

    flow_id: Mapped[uuid.UUID] = mapped_column(cascade_to("flows.id"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    shard: Mapped[int] = shard()
    bot_id: Mapped[uuid.UUID] = mapped_column(cascade_to("bots.id"))
    runs_started: Mapped[int] = counter()
    runs_completed: Mapped[int] = counter()
    runs_abandoned: Mapped[int] = counter()
    runs_failed: Mapped[int] = counter()
    runs_other: Mapped[int] = counter()
    completed_duration_ms_sum: Mapped[int] = counter()


class NodeHour(Base):
    """The funnel of one node: runs that reached it, visits, and how runs left the flow there."""

    __tablename__ = "analytics_node_hours"

    flow_id: Mapped[uuid.UUID] = mapped_column(cascade_to("flows.id"), primary_key=True)
    node_id: Mapped[str] = mapped_column(Text, primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    shard: Mapped[int] = shard()
    reached: Mapped[int] = counter()
    visits: Mapped[int] = counter()
    invalid: Mapped[int] = counter()
    timeouts: Mapped[int] = counter()
    errors: Mapped[int] = counter()
    ended_completed: Mapped[int] = counter()
    ended_dropped: Mapped[int] = counter()


class EdgeHour(Base):
    """How often runs went from `source` by `handle` to `target`."""

    __tablename__ = "analytics_edge_hours"

    flow_id: Mapped[uuid.UUID] = mapped_column(cascade_to("flows.id"), primary_key=True)
    source: Mapped[str] = mapped_column(Text, primary_key=True)
    handle: Mapped[str] = mapped_column(Text, primary_key=True)
    target: Mapped[str] = mapped_column(Text, primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    shard: Mapped[int] = shard()
    visits: Mapped[int] = counter()


class AnswerHour(Base):
    """Accepted answers at a waiting node (counted when the run ends), by value."""

    __tablename__ = "analytics_answer_hours"
    __table_args__ = (Index("ix_analytics_answer_hours_bot_hour", "bot_id", "hour"),)

    flow_id: Mapped[uuid.UUID] = mapped_column(cascade_to("flows.id"), primary_key=True)
    node_id: Mapped[str] = mapped_column(Text, primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    answer: Mapped[str] = mapped_column(Text, primary_key=True)
    shard: Mapped[int] = shard()
    bot_id: Mapped[uuid.UUID] = mapped_column(cascade_to("bots.id"))
    n: Mapped[int] = counter()


class AnalyticsFact(Base):
    """The analytics outbox: one row per counted event, written by triggers on the raw tables in
    the recording transaction, folded into the rollups and deleted by the worker's drainer.

    `kind`: `contact` (new contact: subject, bot in `context`), `message` (subject, conversation
    in `context`, direction in `label`), `status` (conversation's status set: subject, bot in
    `context`, before in `label`, after in `detail`), `run` (run started: subject, flow in
    `context`, triggering text in `label`), `step` (run in subject, `number` sequence, node in
    `label`, outcome in `detail`) and `end` (run ended: subject, flow in `context`, status in
    `label`). `at` is when it happened (the hour counted).
    """

    __tablename__ = "analytics_facts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    subject: Mapped[uuid.UUID]
    context: Mapped[uuid.UUID | None]
    number: Mapped[int | None]
    label: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
