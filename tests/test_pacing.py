"""Pacing is shared through PostgreSQL: two worker processes together keep a sender's rate."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.ext.asyncio import AsyncEngine

from channels.pacing import Pacer
from models.db import make_session_factory


async def test_two_workers_together_keep_one_senders_rate(db_engine: AsyncEngine, clean_db):
    # Two pacers stand for two worker processes: they share nothing but the database.
    first, second = Pacer(make_session_factory(db_engine)), Pacer(make_session_factory(db_engine))
    done: list[float] = []

    async def send(pacer: Pacer, sender: str) -> None:
        await pacer.wait(sender, rate=10)
        done.append(time.monotonic())

    begin = time.monotonic()
    await asyncio.gather(*(send(pacer, "+15550001111") for pacer in [first, second] * 4))
    # 8 sends at 10 per second: the last one waits for 7 slots of 100 ms.
    assert max(done) - begin >= 0.65

    other = time.monotonic()
    await send(second, "+15550002222")  # another sender has its own pace
    assert done[-1] - other < 0.1
