"""Live updates for subscriptions: one PostgreSQL LISTEN connection per process, fanned out.

Writers announce changes with `pg_notify` (`bb_messages`: a conversation has a new or changed
message; `bb_conversations`: a conversation changed), the payload being the conversation id.
Each notification is read from the database once and handed to every interested subscriber.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import psycopg
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.bot_tables import Channel
from models.conversation_tables import Contact, Conversation, Message
from models.listener import listen
from services.conversations.notify import CONVERSATIONS_CHANNEL, MESSAGES_CHANNEL
from services.conversations.queries import ConversationRow

Kind = Literal["message", "conversation"]
RECENT = timedelta(seconds=60)  # a message changed this recently may not have been announced
SEEN_KEPT_SECONDS = 300.0


@dataclass(eq=False)
class Subscriber:
    kind: Kind
    bot_id: uuid.UUID | None
    conversation_id: uuid.UUID | None
    since: datetime
    queue: asyncio.Queue[Message | ConversationRow] = field(default_factory=asyncio.Queue)

    def wants(self, kind: Kind, bot_id: uuid.UUID, conversation_id: uuid.UUID) -> bool:
        return kind == self.kind and (
            self.conversation_id == conversation_id or self.bot_id == bot_id
        )


class StreamRefused(Exception):
    """No stream slot: `status` is 429 (this client has too many) or 503 (the process is full)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class StreamSlots:
    """Caps on long-lived streams, per client address and in total, in this process."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total, self.per_client = total, per_client
        self._open: dict[str, int] = {}

    def count(self) -> int:
        return sum(self._open.values())

    def acquire(self, client: str) -> None:
        """Take a slot for `client`; `StreamRefused` when none is left. Pair with `release`."""
        if self._open.get(client, 0) >= self.per_client:
            raise StreamRefused(429, f"at most {self.per_client} open streams per client")
        if self.count() >= self.total:
            raise StreamRefused(503, f"the server has its maximum of {self.total} open streams")
        self._open[client] = self._open.get(client, 0) + 1

    def release(self, client: str) -> None:
        self._open[client] -= 1
        if not self._open[client]:
            del self._open[client]


class LiveUpdates:
    """The process's listener; started with the first subscriber, stopped by `close`."""

    def __init__(self, database_url: str, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.database_url = database_url
        self.sessions = sessions
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._bots: dict[uuid.UUID, uuid.UUID] = {}  # conversation -> bot (never changes)
        self._seen: dict[tuple[uuid.UUID, str], float] = {}  # (message, status) -> when

    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @asynccontextmanager
    async def subscribe(
        self, kind: Kind, bot_id: uuid.UUID | None, conversation_id: uuid.UUID | None
    ) -> AsyncIterator[asyncio.Queue[Message | ConversationRow]]:
        """A queue receiving what changes from now on, for a bot or one conversation."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(
                listen(
                    self.database_url,
                    [MESSAGES_CHANNEL, CONVERSATIONS_CHANNEL],
                    "live-updates",
                    self._dispatch,
                    self._listening_changed,
                )
            )
        await asyncio.wait_for(self._listening.wait(), timeout=10)
        async with self.sessions() as session:
            since = await session.scalar(select(func.now()))
        subscriber = Subscriber(kind, bot_id, conversation_id, since)
        self._subscribers.add(subscriber)
        try:
            yield subscriber.queue
        finally:
            self._subscribers.discard(subscriber)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    def _listening_changed(self, listening: bool) -> None:
        if listening:
            self._listening.set()
        else:
            self._listening.clear()

    async def _dispatch(self, notice: psycopg.Notify) -> None:
        if not self._subscribers:
            return
        try:
            conversation_id = uuid.UUID(notice.payload)
        except ValueError:
            return
        kind: Kind = "message" if notice.channel == MESSAGES_CHANNEL else "conversation"
        async with self.sessions() as session:
            bot_id = await self._bot_of(session, conversation_id)
            if bot_id is None:
                return
            listeners = [s for s in self._subscribers if s.wants(kind, bot_id, conversation_id)]
            if not listeners:
                return
            if kind == "message":
                for message in await self._new_messages(session, conversation_id):
                    for subscriber in listeners:
                        if message.status_updated_at >= subscriber.since:
                            subscriber.queue.put_nowait(message)
                return
            row = (
                await session.execute(
                    select(Conversation, Contact, Channel.kind)
                    .join(Contact, Contact.id == Conversation.contact_id)
                    .join(Channel, Channel.id == Conversation.channel_id)
                    .where(Conversation.id == conversation_id)
                )
            ).first()
        if row is not None:
            for subscriber in listeners:
                subscriber.queue.put_nowait(ConversationRow(*row))

    async def _bot_of(self, session: AsyncSession, conversation_id: uuid.UUID) -> uuid.UUID | None:
        if conversation_id not in self._bots:
            bot_id = await session.scalar(
                select(Conversation.bot_id).where(Conversation.id == conversation_id)
            )
            if bot_id is None:
                return None
            self._bots[conversation_id] = bot_id
        return self._bots[conversation_id]

    async def _new_messages(
        self, session: AsyncSession, conversation_id: uuid.UUID
    ) -> list[Message]:
        """The conversation's messages added or changed since last announced, oldest first."""
        recent = await session.scalars(
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.status_updated_at >= func.now() - RECENT,
            )
            .order_by(Message.created_at, Message.id)
        )
        now = time.monotonic()
        fresh = []
        for message in recent:
            if (message.id, message.status) not in self._seen:
                self._seen[(message.id, message.status)] = now
                fresh.append(message)
        if len(self._seen) > 10_000:
            self._seen = {k: t for k, t in self._seen.items() if now - t < SEEN_KEPT_SECONDS}
        return fresh
