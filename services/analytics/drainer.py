"""The analytics drainer: folds the outbox's facts into the rollups as they are committed.

It LISTENs on `analytics_facts` (the triggers that write facts NOTIFY it; PostgreSQL sends one
notification per transaction) and, woken, folds batches until none is left, at most once per
`interval` (`BOTBUILDER_ANALYTICS_DRAIN_SECONDS`: facts committed meanwhile share the next
batch, so a busy engine pays one drain for many messages). It drains whenever it starts to
listen (facts left by a crash or committed while nobody listened). Several workers may drain at
once: each claims different facts. A failure is logged and retried with back-off (the facts
stay); a dropped LISTEN connection is reopened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import psycopg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.listener import listen, raise_if_cancelling
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
        self._woken = asyncio.Event()

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
        listener = asyncio.create_task(
            listen(
                self.database_url,
                [FACTS_CHANNEL],
                "analytics-drainer",
                self._heard,
                self._listening_changed,
            )
        )
        delay = FIRST_RETRY_SECONDS
        try:
            while True:
                await self._woken.wait()
                self._woken.clear()
                try:
                    await self.drain()
                except Exception:
                    raise_if_cancelling()
                    log.exception("analytics drainer failed; retrying in %.1f s", delay)
                    self._woken.set()
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, MAX_RETRY_SECONDS)
                    continue
                delay = FIRST_RETRY_SECONDS
                await asyncio.sleep(self.interval)
        finally:
            listener.cancel()
            with suppress(asyncio.CancelledError):
                await listener

    async def _heard(self, notice: psycopg.Notify) -> None:
        self._woken.set()

    def _listening_changed(self, listening: bool) -> None:
        if listening:  # drain what was committed while nobody listened
            self._woken.set()


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
