"""The ingress's active channels, remembered by each API process while it hears of their changes.

Every webhook needs its channel (kind, bot, config, secrets). Reading it from PostgreSQL cost
each webhook a pool checkout with its ping and a `SELECT`; a channel changes only when its
owner edits, disconnects or deletes it. A trigger (migration 0019) NOTIFYs `bb_channels` with
the channel's id at every such change, at commit. A process remembers a channel only while its
LISTEN connection is up and forgets it when told; a read that a change may have overtaken is
not remembered, and a lost connection forgets everything until it listens again, so a change is
seen by every process within the notification's delay (milliseconds), never missed.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.bot_tables import Channel
from models.listener import listen

CHANGES_CHANNEL = "bb_channels"
LISTEN_WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class StoredChannel:
    """An active channel, as its ingress reads it."""

    id: uuid.UUID
    bot_id: uuid.UUID
    kind: str
    config: dict[str, Any]
    secrets_encrypted: str | None


CHANNELS = Channel.__table__
ACTIVE_CHANNEL = select(
    CHANNELS.c.id,
    CHANNELS.c.bot_id,
    CHANNELS.c.kind,
    CHANNELS.c.config,
    CHANNELS.c.secrets_encrypted,
).where(
    CHANNELS.c.id == bindparam("channel_id"),
    CHANNELS.c.kind == bindparam("kind"),
    CHANNELS.c.is_active.is_(True),
)


class ActiveChannels:
    """This process's remembered channels; listens from `start` (or the first lookup) until
    `close`."""

    def __init__(self, database_url: str, engine: AsyncEngine) -> None:
        self.database_url = database_url
        self.engine = engine
        self._known: dict[uuid.UUID, StoredChannel] = {}
        self._changes = 0  # notifications heard (and connections lost): a read began before one
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def get(self, channel_id: uuid.UUID, kind: str) -> StoredChannel | None:
        """The active channel of this kind with this id; None when there is none."""
        if self._task is None:  # not started: listen first (or give up soon)
            self.start()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._listening.wait(), LISTEN_WAIT_SECONDS)
        known = self._known.get(channel_id) if self._listening.is_set() else None
        if known is not None and known.kind == kind:
            return known
        changes = self._changes
        # One read outside a transaction: no BEGIN and ROLLBACK round trips around it.
        async with self.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            params = {"channel_id": channel_id, "kind": kind}
            row = (await connection.execute(ACTIVE_CHANNEL, params)).first()
        if row is None:
            return None
        channel = StoredChannel(**row._mapping)
        if self._listening.is_set() and changes == self._changes:
            self._known[channel_id] = channel
        return channel

    def start(self) -> None:
        """Begin listening, before the first webhook needs it."""
        if self._task is None:
            self._task = asyncio.create_task(
                listen(
                    self.database_url,
                    [CHANGES_CHANNEL],
                    "ingress-channels",
                    self._heard,
                    self._listening_changed,
                )
            )

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def _heard(self, notice: psycopg.Notify) -> None:
        self._forget(notice.payload)

    def _listening_changed(self, listening: bool) -> None:
        if listening:
            self._changes += 1  # a read begun before may have missed a change
            self._listening.set()
        else:
            self._listening.clear()
            self._forget(None)

    def _forget(self, channel_id: str | None) -> None:
        """Forget one channel (a change was heard) or all (None: changes may go unheard)."""
        self._changes += 1
        if channel_id is None:
            self._known.clear()
        else:
            self._known.pop(uuid.UUID(channel_id), None)
