"""A PostgreSQL LISTEN connection kept open for the life of a task, reopened when it fails.

The processes that react to NOTIFY (the analytics drainer, the live updates, the ingress's
active channels) share this loop: connect, LISTEN, hand each notification over, and when the
connection fails, say so, log it and reconnect with back-off. Notifications sent while nobody
listens are lost, so callers hear `on_listening(False)` then and must not trust what they
remember, and `on_listening(True)` once they hear every notification again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

import psycopg

from models.db import libpq_url

FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 30.0
log = logging.getLogger(__name__)


async def listen(
    database_url: str,
    channels: Sequence[str],
    application_name: str,
    on_notify: Callable[[psycopg.Notify], Awaitable[None]],
    on_listening: Callable[[bool], None],
) -> None:
    """LISTEN on `channels` until cancelled, calling `on_notify` for each notification."""
    delay = FIRST_RETRY_SECONDS
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                libpq_url(database_url), autocommit=True, application_name=application_name
            ) as conn:
                for channel in channels:
                    await conn.execute(f"LISTEN {channel}")
                delay = FIRST_RETRY_SECONDS
                on_listening(True)
                async for notice in conn.notifies():
                    await on_notify(notice)
        except Exception:
            raise_if_cancelling()
            log.exception("%s: listening failed; reconnecting in %.1f s", application_name, delay)
        finally:
            on_listening(False)
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_RETRY_SECONDS)


def raise_if_cancelling() -> None:
    """Re-raise a cancel of the current task that a database driver turned into its own error."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from None
