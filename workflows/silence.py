"""`SilenceTimer`: how long a contact may stay silent, kept by one durable timer per workflow run
instead of one per wait.

A wait with a timeout (`workflow.wait_condition(..., timeout=...)`) starts a timer and cancels
it when the contact answers: two history events and a timer task on the Temporal server for
every message. Here a wait only moves the deadline; the timer, when it fires, starts again for
what is left (a message came meanwhile), or ends the wait (none did). A shorter deadline than
the running timer's (a question's own timeout) starts a timer for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows import summaries


class SilenceTimer:
    """One deadline at a time: the wait in progress (the conversation's or its run's)."""

    def __init__(self) -> None:
        self._deadline: datetime | None = None
        self._fires_at: datetime | None = None
        self._timer: asyncio.Task[None] | None = None
        self._expired = False

    async def wait(self, condition: Callable[[], bool], limit: timedelta) -> None:
        """Until `condition` holds; raises `TimeoutError` when `limit` passes first (like
        `workflow.wait_condition` with a timeout)."""
        if condition():
            return
        self._arm(workflow.now() + limit)
        try:
            await workflow.wait_condition(lambda: condition() or self._expired)
        finally:
            self._deadline = None
        expired, self._expired = self._expired, False
        if expired and not condition():
            raise TimeoutError()

    def _arm(self, deadline: datetime) -> None:
        self._deadline = deadline
        if self._timer is not None and self._fires_at is not None:
            if self._fires_at <= deadline:
                return  # it fires first, and starts again for the rest
            self._timer.cancel()
        self._fires_at = deadline
        self._timer = asyncio.create_task(self._sleep())

    async def _sleep(self) -> None:
        while True:
            assert self._fires_at is not None
            await workflow.sleep(
                self._fires_at - workflow.now(), summary=summaries.silence(self._fires_at)
            )
            deadline = self._deadline
            if deadline is None:
                break  # the wait ended
            if workflow.now() >= deadline:
                self._expired = True
                break
            self._fires_at = deadline  # a message moved the deadline: sleep the rest
        self._timer = None
