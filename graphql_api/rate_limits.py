"""Request rates per client address, counted in memory by each API process (a token bucket
per address: a burst of `per_minute` requests, then `per_minute` a minute). With several API
processes each counts alone, so the platform-wide rate is at most their number times this."""

from __future__ import annotations

import math
import time

from starlette.requests import HTTPConnection

from models.errors import TooManyAttempts
from services.accounts.log_in_limits import source_of

MAX_TRACKED_CLIENTS = 10_000


class RateLimited(TooManyAttempts):
    """Too many requests from one client address (HTTP 429 with `Retry-After`)."""

    code = "RATE_LIMITED"


class RateLimiter:
    """`check(request)` raises `RateLimited` when the request's address is over its rate."""

    def __init__(self, per_minute: int, what: str) -> None:
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60
        self.what = what
        self._buckets: dict[str, tuple[float, float]] = {}  # source -> (tokens, updated)

    def check(self, request: HTTPConnection) -> None:
        if self.capacity <= 0:
            return
        source = source_of(request.client.host if request.client else None)
        now = time.monotonic()
        tokens, updated = self._buckets.get(source, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - updated) * self.per_second)
        if tokens < 1:
            self._buckets[source] = (tokens, now)
            wait = math.ceil((1 - tokens) / self.per_second)
            raise RateLimited(
                f"too many {self.what} from your address; try again in {wait} seconds",
                retry_after=wait,
            )
        self._buckets[source] = (tokens - 1, now)
        if len(self._buckets) > MAX_TRACKED_CLIENTS:
            self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        """Drop the addresses whose bucket has refilled (they are as good as new)."""
        refill = self.capacity / self.per_second
        self._buckets = {
            source: (tokens, updated)
            for source, (tokens, updated) in self._buckets.items()
            if now - updated < refill
        }
