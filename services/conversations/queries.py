"""Reading conversations for the inbox: filtered pages with opaque cursors, and their details."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, exists, func, or_, select, true, tuple_
from sqlalchemy.dialects.postgresql import UUID, array
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from models.bot_tables import Bot, Channel
from models.conversation_tables import (
    CONVERSATION_STATUSES,
    Contact,
    Conversation,
    Message,
)
from models.errors import InvalidInput, NotFound


@dataclass(frozen=True)
class ConversationFilter:
    """What a list of conversations is narrowed to; every part is optional."""

    bot_id: uuid.UUID | None = None
    channel_id: uuid.UUID | None = None
    status: str | None = None
    contact: str | None = None  # part of the contact's external id or name
    text: str | None = None  # part of any message's text
    since: datetime | None = None  # last message at or after
    until: datetime | None = None  # last message before


@dataclass(frozen=True)
class ConversationRow:
    """A conversation with its contact and channel kind."""

    conversation: Conversation
    contact: Contact
    channel_kind: str


def encode_cursor(at: datetime, row_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{row_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The position a cursor names; a cursor not made here is refused."""
    try:
        at, _, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(at), uuid.UUID(row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("`after` is not a cursor this API returned") from None


def _rows(organization_id: uuid.UUID) -> Select[tuple[Conversation, Contact, str]]:
    return (
        select(Conversation, Contact, Channel.kind)
        .join(Bot, Bot.id == Conversation.bot_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .join(Channel, Channel.id == Conversation.channel_id)
        .where(Bot.organization_id == organization_id)
    )


def _filtered(query: Select, where: ConversationFilter) -> Select:
    if where.status is not None and where.status not in CONVERSATION_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(CONVERSATION_STATUSES)}")
    if where.since and where.until and where.since >= where.until:
        raise InvalidInput("`since` must be before `until`")
    conditions = [
        Conversation.bot_id == where.bot_id if where.bot_id else None,
        Conversation.channel_id == where.channel_id if where.channel_id else None,
        Conversation.status == where.status if where.status else None,
        Conversation.last_message_at >= where.since if where.since else None,
        Conversation.last_message_at < where.until if where.until else None,
    ]
    if where.contact:
        conditions.append(
            or_(
                Contact.external_id.icontains(where.contact, autoescape=True),
                Contact.name.icontains(where.contact, autoescape=True),
            )
        )
    if where.text:
        conditions.append(
            exists().where(
                Message.conversation_id == Conversation.id,
                Message.text.icontains(where.text, autoescape=True),
            )
        )
    return query.where(*(condition for condition in conditions if condition is not None))


async def conversation_page(
    session: AsyncSession,
    organization_id: uuid.UUID,
    where: ConversationFilter,
    first: int,
    after: str | None,
) -> tuple[list[ConversationRow], str | None]:
    """Newest activity first (ties by id); the rows and the cursor of the next page, if any."""
    query = _filtered(_rows(organization_id), where)
    if after:
        at, row_id = decode_cursor(after)
        query = query.where(tuple_(Conversation.last_message_at, Conversation.id) < (at, row_id))
    query = query.order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
    found = [ConversationRow(*row) for row in (await session.execute(query.limit(first + 1)))]
    page = found[:first]
    last = page[-1].conversation if page else None
    more = len(found) > first and last is not None
    return page, encode_cursor(last.last_message_at, last.id) if more and last else None


async def conversation_in(
    session: AsyncSession, organization_id: uuid.UUID, conversation_id: uuid.UUID
) -> ConversationRow:
    row = (
        await session.execute(_rows(organization_id).where(Conversation.id == conversation_id))
    ).first()
    if row is None:
        raise NotFound("no such conversation")
    return ConversationRow(*row)


MessageSlice = tuple[list[Message], str | None]


async def messages_of(
    session: AsyncSession, conversation_ids: list[uuid.UUID], first: int, after: str | None
) -> dict[uuid.UUID, MessageSlice]:
    """Each conversation's messages, oldest first, `first` of them after the cursor `after`,
    with the cursor of its next page, if any: one query (a LATERAL join on the conversation's
    index) however many conversations."""
    wanted = select(func.unnest(array(conversation_ids, type_=UUID)).label("id")).subquery()
    page = select(Message).where(Message.conversation_id == wanted.c.id)
    if after:
        at, row_id = decode_cursor(after)
        page = page.where(tuple_(Message.created_at, Message.id) > (at, row_id))
    page = page.order_by(Message.created_at, Message.id).limit(first + 1).lateral()
    rows = aliased(Message, page)
    found: defaultdict[uuid.UUID, list[Message]] = defaultdict(list)
    for row in await session.scalars(select(rows).select_from(wanted).join(page, true())):
        found[row.conversation_id].append(row)
    pages = {}
    for conversation_id in conversation_ids:
        listed = found[conversation_id]
        shown = listed[:first]
        more = len(listed) > first
        pages[conversation_id] = (
            shown,
            encode_cursor(shown[-1].created_at, shown[-1].id) if more else None,
        )
    return pages
