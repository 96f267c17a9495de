"""Pacing outbound sends per sender number, shared by every worker process.

Each send reserves the sender's next free moment in PostgreSQL (`send_slots`) in one atomic
statement (in the transaction that marks the message `sending`), then sleeps until it.
Senders are spaced to their rate however many workers send.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Interval, bindparam, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.conversation_tables import SendSlot

SLOTS = SendSlot.__table__
INTERVAL = bindparam("interval", type_=Interval)
NOW = func.clock_timestamp()
# Built once: the sender's next free moment, and the seconds until the one this send takes.
RESERVE = (
    insert(SLOTS)
    .values(sender=bindparam("sender"), next_at=NOW + INTERVAL)
    .on_conflict_do_update(
        index_elements=[SLOTS.c.sender],
        set_={"next_at": func.greatest(SLOTS.c.next_at, NOW) + INTERVAL},
    )
    .returning(func.extract("epoch", SLOTS.c.next_at - INTERVAL - NOW))
)


async def reserve_slot(session: AsyncSession, sender: str, rate: float) -> float:
    """Reserve `sender`'s next free moment (at most `rate` sends a second) in the caller's
    transaction; the seconds to wait for it (committing makes the reservation count)."""
    interval = timedelta(seconds=1.0 / rate)
    return float(await session.scalar(RESERVE, {"sender": sender, "interval": interval}) or 0.0)
