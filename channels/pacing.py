"""Pacing outbound sends per sender number, shared by every send in one worker process."""

from __future__ import annotations

import asyncio
import time


class Pace:
    """Spaces calls to at most `rate` per second: each `wait()` takes the next free slot."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next_slot = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class Pacer:
    """One `Pace` per sender; a sender's rate is fixed when it is first seen (or changed)."""

    def __init__(self) -> None:
        self._paces: dict[str, Pace] = {}

    async def wait(self, sender: str, rate: float) -> None:
        """Return when `sender` may send its next message."""
        pace = self._paces.get(sender)
        if pace is None or pace.interval != 1.0 / rate:
            pace = self._paces[sender] = Pace(rate)
        await pace.wait()
