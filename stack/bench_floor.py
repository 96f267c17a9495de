"""The floor beside `botbuilder bench`: the minimal durable chat turn on the same Temporal server.

Each message is a signal-with-start to the contact's workflow, which runs one local activity
(the "reply") per message: `turns` keeps one workflow per contact, as a conversation does,
and `starts` opens a new workflow per message, as a new contact does. Whatever BotBuilder does
beyond that is its own cost.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from stack.wa_load import Figures

TASK_QUEUE = "botbuilder-bench-floor"
_replies: dict[str, asyncio.Future[float]] = {}


@activity.defn(name="floor_reply")
async def floor_reply(key: str) -> None:
    """The reply going out: resolves the waiting sender's future."""
    future = _replies.pop(key, None)
    if future is not None and not future.done():
        future.set_result(time.monotonic())


@workflow.defn(name="BenchFloorChat")
class FloorChat:
    """Answers each signalled message with one local activity; `once` ends after the first."""

    def __init__(self) -> None:
        self.inbox: list[str] = []

    @workflow.signal
    def inbound(self, key: str) -> None:
        self.inbox.append(key)

    @workflow.run
    async def run(self, once: bool) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self.inbox))
            while self.inbox:
                await workflow.execute_local_activity(
                    floor_reply, self.inbox.pop(0), start_to_close_timeout=timedelta(seconds=10)
                )
            if once:
                return


class Floor:
    """Runs the floor's load on `client`'s server with a worker in this process."""

    def __init__(self, client: Client, timeout: float = 30.0) -> None:
        self.client, self.timeout = client, timeout
        self.run_tag = uuid.uuid4().hex[:8]

    async def _turn(self, workflow_id: str, once: bool, figures: Figures) -> None:
        key = uuid.uuid4().hex
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        _replies[key] = future
        started = time.monotonic()
        figures.first_send = figures.first_send or started
        figures.sent += 1
        figures.expected += 1
        await self.client.start_workflow(
            FloorChat.run,
            once,
            id=workflow_id,
            task_queue=TASK_QUEUE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal="inbound",
            start_signal_args=[key],
        )
        figures.webhook_ms.append((time.monotonic() - started) * 1000)
        try:
            replied = await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            figures.timeouts += 1
            _replies.pop(key, None)
            return
        figures.replies += 1
        figures.add_latency((replied - started) * 1000)
        figures.last_event = max(figures.last_event, replied)

    async def turns(self, users: int, messages: int) -> Figures:
        """`users` long-lived workflows at once, each answering `messages` messages in turn."""
        figures = Figures()

        async def user(number: int) -> None:
            for _ in range(messages):
                await self._turn(f"floor-{self.run_tag}-{number}", False, figures)

        async with self._worker():
            await asyncio.gather(*(user(number) for number in range(users)))
        await self._end_turns(users)
        return figures

    async def starts(self, rate: float, duration: float) -> Figures:
        """A new workflow per message, `rate` a second for `duration` seconds."""
        figures = Figures()
        begin, tasks = time.monotonic(), []
        async with self._worker():
            for number in range(max(1, int(rate * duration))):
                await asyncio.sleep(max(0.0, begin + number / rate - time.monotonic()))
                workflow_id = f"floor-{self.run_tag}-new-{number}"
                tasks.append(asyncio.create_task(self._turn(workflow_id, True, figures)))
            await asyncio.gather(*tasks)
        return figures

    def _worker(self) -> Worker:
        return Worker(
            self.client,
            task_queue=TASK_QUEUE,
            workflows=[FloorChat],
            activities=[floor_reply],
            workflow_runner=UnsandboxedWorkflowRunner(),
        )

    async def _end_turns(self, users: int) -> None:
        """The long-lived workflows are left waiting: end them so the server forgets them."""
        for number in range(users):
            handle = self.client.get_workflow_handle(f"floor-{self.run_tag}-{number}")
            await handle.terminate("bench finished")
