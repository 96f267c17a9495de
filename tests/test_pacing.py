"""Pacing is shared through PostgreSQL: two worker processes together keep a sender's rate."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from channels.pacing import reserve_slot
from models.db import make_session_factory


async def test_two_workers_together_keep_one_senders_rate(db_engine: AsyncEngine, clean_db):
    # Two session factories stand for two worker processes: they share nothing but the database.
    first, second = make_session_factory(db_engine), make_session_factory(db_engine)
    done: list[float] = []

    async def send(sessions: async_sessionmaker[AsyncSession], sender: str) -> None:
        async with sessions.begin() as session:  # as send_message reserves, then commits
            delay = await reserve_slot(session, sender, rate=10)
        await asyncio.sleep(delay)
        done.append(time.monotonic())

    begin = time.monotonic()
    await asyncio.gather(*(send(sessions, "+15550001111") for sessions in [first, second] * 4))
    # 8 sends at 10 per second: the last one waits for 7 slots of 100 ms.
    assert max(done) - begin >= 0.65

    other = time.monotonic()
    await send(second, "+15550002222")  # another sender has its own pace
    assert done[-1] - other < 0.1
