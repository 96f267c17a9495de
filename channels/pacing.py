"""Pacing outbound sends per sender number, shared by every worker process.

Each send reserves the sender's next free moment in PostgreSQL (`send_slots`) in one atomic
statement, then sleeps until it. Senders are spaced to their rate however many workers send.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.conversation_tables import SendSlot


class Pacer:
    """Spaces the sends of each sender to at most `rate` per second, across processes."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def wait(self, sender: str, rate: float) -> None:
        """Return when `sender` may send its next message."""
        async with self.sessions.begin() as session:
            delay = await reserve_slot(session, sender, rate)
        if delay > 0:
            await asyncio.sleep(delay)


async def reserve_slot(session: AsyncSession, sender: str, rate: float) -> float:
    """Reserve `sender`'s next free moment (at most `rate` sends a second) in the caller's
    transaction; the seconds to wait for it (committing makes the reservation count)."""
    interval = timedelta(seconds=1.0 / rate)
    now = func.clock_timestamp()
    reserve = (
        insert(SendSlot)
        .values(sender=sender, next_at=now + interval)
        .on_conflict_do_update(
            index_elements=[SendSlot.sender],
            set_={"next_at": func.greatest(SendSlot.next_at, now) + interval},
        )
        .returning(func.extract("epoch", SendSlot.next_at - interval - now))
    )
    return float(await session.scalar(reserve) or 0.0)
