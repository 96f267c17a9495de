"""Pacing outbound sends per sender number, shared by every worker process.

Each send reserves the sender's next free moment in PostgreSQL (`send_slots`) in one atomic
statement (in the transaction that marks the message `sending`), then sleeps until it.
Senders are spaced to their rate however many workers send.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.conversation_tables import SendSlot


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
