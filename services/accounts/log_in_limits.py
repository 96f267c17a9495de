"""Limits on password guessing, shared by `logIn` and `acceptInvitation`.

Every attempt is counted before its password is checked, by one atomic upsert per counter, so
a burst of concurrent guesses cannot all be checked: the request that finds its count over the
limit is refused without looking at the password. Two counters per email:

- per source (the client's IPv4 address, or its IPv6 /64): `MAX_ATTEMPTS_PER_SOURCE` within
  `WINDOW`; a success clears it. An anonymous client can only lock itself out.
- all sources together: `MAX_ATTEMPTS_PER_EMAIL` within `WINDOW`, so spreading guesses over
  many addresses is bounded too; a success takes itself back off this count.

A counter's window starts at its first attempt and the lock ends `WINDOW` after that.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.account_tables import LogInAttempt
from models.errors import TooManyAttempts

MAX_ATTEMPTS_PER_SOURCE = 5
MAX_ATTEMPTS_PER_EMAIL = 50
WINDOW = timedelta(minutes=15)
ALL_SOURCES = "*"
MAX_KEY_LENGTH = 254


def source_of(client_host: str | None) -> str:
    """The counter key of a client address: an IPv4 address, or an IPv6 address's /64."""
    try:
        address = ipaddress.ip_address(client_host or "")
    except ValueError:
        return client_host or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def email_key(email: str) -> str:
    """The counters' key of an email: itself, or its SHA-256 when too long to index."""
    email = email.strip().lower()
    if len(email) <= MAX_KEY_LENGTH:
        return email
    return "sha256:" + hashlib.sha256(email.encode(errors="surrogatepass")).hexdigest()


async def _count_attempt(session: AsyncSession, email: str, source: str) -> tuple[int, datetime]:
    """Add one attempt to the (email, source) counter, restarting a window that has passed;
    its new count and window start (one statement: concurrent attempts queue on the row)."""
    current = LogInAttempt.window_started_at > func.now() - WINDOW
    statement = (
        insert(LogInAttempt)
        .values(email=email, source=source, attempts=1, window_started_at=func.now())
        .on_conflict_do_update(
            index_elements=[LogInAttempt.email, LogInAttempt.source],
            set_={
                "attempts": case((current, LogInAttempt.attempts + 1), else_=1),
                "window_started_at": case(
                    (current, LogInAttempt.window_started_at), else_=func.now()
                ),
            },
        )
        .returning(LogInAttempt.attempts, LogInAttempt.window_started_at, func.now())
    )
    attempts, started, at = (await session.execute(statement)).one()
    return attempts, started + WINDOW - at


async def reserve_attempt(session: AsyncSession, email: str, source: str) -> None:
    """Count a password attempt for `email` from `source` (commit before checking the
    password); `TooManyAttempts` saying when to retry when a counter is over its limit."""
    email = email_key(email)
    for key, limit in ((source, MAX_ATTEMPTS_PER_SOURCE), (ALL_SOURCES, MAX_ATTEMPTS_PER_EMAIL)):
        attempts, remaining = await _count_attempt(session, email, key)
        if attempts > limit:
            minutes = max(1, math.ceil(remaining.total_seconds() / 60))
            raise TooManyAttempts(
                f"too many failed log-ins for this email; try again in {minutes} minutes",
                retry_after=max(1, math.ceil(remaining.total_seconds())),
            )


async def forget_attempts(session: AsyncSession, email: str, source: str) -> None:
    """A success: clear the source's counter, take this attempt off the email's, and drop
    counters that are empty or whose window has passed."""
    email = email_key(email)
    await session.execute(
        delete(LogInAttempt).where(LogInAttempt.email == email, LogInAttempt.source == source)
    )
    await session.execute(
        update(LogInAttempt)
        .where(LogInAttempt.email == email, LogInAttempt.source == ALL_SOURCES)
        .values(attempts=func.greatest(LogInAttempt.attempts - 1, 0))
    )
    await session.execute(
        delete(LogInAttempt).where(
            (LogInAttempt.window_started_at < func.now() - WINDOW) | (LogInAttempt.attempts == 0)
        )
    )
