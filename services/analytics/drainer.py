"""The analytics drainer: folds the outbox's facts into the rollups as they are committed.

It LISTENs on `analytics_facts` (the triggers that write facts NOTIFY it; PostgreSQL sends one
notification per transaction) and, woken, folds batches until none is left, at most once per
`interval` (`BOTBUILDER_ANALYTICS_DRAIN_SECONDS`: facts committed meanwhile share the next
batch, so a busy engine pays one drain for many messages). It drains once at start (facts left
by a crash or while nobody listened). Several workers may drain at once: each claims different
facts. A failure is logged and retried with back-off (the facts stay); a dropped LISTEN
connection is reopened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import psycopg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.db import libpq_url
from services.analytics.rollups import BATCH, FACTS_CHANNEL, fold

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 0.5
FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 30.0


class FactDrainer:
    """Run `run()` as a task for the life of the process; cancel it to stop."""

    def __init__(
        self,
        database_url: str,
        sessions: async_sessionmaker[AsyncSession],
        interval: float = INTERVAL_SECONDS,
        batch: int = BATCH,
    ) -> None:
        self.database_url = database_url
        self.sessions = sessions
        self.interval = interval
        self.batch = batch
        self.listening = asyncio.Event()
        self._delay = FIRST_RETRY_SECONDS

    async def drain(self) -> int:
        """Fold batches until no unclaimed fact is left; returns how many facts."""
        total = 0
        while True:
            async with self.sessions.begin() as session:
                folded = await fold(session, self.batch)
            total += folded
            # A short batch: every other fact is another drainer's (SKIP LOCKED counts only
            # the rows it takes), or committed since, and its NOTIFY wakes this one again.
            if folded < self.batch:
                return total

    async def run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    libpq_url(self.database_url),
                    autocommit=True,
                    application_name="analytics-drainer",
                ) as conn:
                    await conn.execute(f"LISTEN {FACTS_CHANNEL}")
                    self.listening.set()
                    await self._serve(conn)
            except asyncio.CancelledError:
                raise
            except Exception:
                task = asyncio.current_task()
                if task is not None and task.cancelling():  # a driver turned the cancel into this
                    raise asyncio.CancelledError from None
                log.exception("analytics drainer failed; retrying in %.1f s", self._delay)
            self.listening.clear()
            await asyncio.sleep(self._delay)
            self._delay = min(self._delay * 2, MAX_RETRY_SECONDS)

    async def _serve(self, conn: psycopg.AsyncConnection) -> None:
        woken = asyncio.Event()
        woken.set()  # drain once at start

        async def listen() -> None:
            try:
                async for _ in conn.notifies():
                    woken.set()
            finally:
                woken.set()  # the loop below finds the listener ended

        listener = asyncio.create_task(listen())
        try:
            while True:
                await woken.wait()
                if listener.done():
                    listener.result()  # the connection's error
                    raise ConnectionError("the LISTEN connection ended")
                woken.clear()
                await self.drain()
                self._delay = FIRST_RETRY_SECONDS
                await asyncio.sleep(self.interval)
        finally:
            listener.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await listener


@asynccontextmanager
async def draining(
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    interval: float = INTERVAL_SECONDS,
) -> AsyncIterator[FactDrainer]:
    """A drainer running in the background for the block."""
    drainer = FactDrainer(database_url, sessions, interval)
    task = asyncio.create_task(drainer.run(), name="analytics drainer")
    try:
        yield drainer
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
