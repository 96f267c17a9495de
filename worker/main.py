"""The worker process: registers every workflow and activity on the task queue and runs them."""

from __future__ import annotations

import asyncio
import signal

from temporalio.client import Client
from temporalio.worker import Worker

from models.db import make_engine, make_session_factory
from models.settings import Settings
from worker.registry import build_activities, workflow_runner, workflows
from worker.temporal_server import ensure_search_attributes
from workflows.client import connect_temporal

FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0


async def connect_when_up(settings: Settings, stop: asyncio.Event) -> Client | None:
    """Temporal's client, waiting (1 s, 2 s ... 30 s apart) while it is unreachable; None when
    the worker is told to stop first."""
    delay = FIRST_RETRY_SECONDS
    while True:
        try:
            return await connect_temporal(settings)
        except RuntimeError as err:
            address = settings.resolved_temporal_address()
            print(
                f"Temporal at {address} is unreachable ({err}); retrying in {delay:.0f} s",
                flush=True,
            )
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
            return None
        except TimeoutError:
            delay = min(delay * 2, MAX_RETRY_SECONDS)


async def run_worker(settings: Settings, database_url: str) -> None:
    """Run until SIGINT/SIGTERM, then finish in-flight tasks and exit. Temporal may come up
    after the worker: it waits for it."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    client = await connect_when_up(settings, stop)
    if client is None:
        return
    await ensure_search_attributes(client, settings.temporal_namespace)
    engine = make_engine(database_url)
    worker = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=workflows(),
        activities=build_activities(settings, make_session_factory(engine)),
        workflow_runner=workflow_runner(),
    )
    async with worker:
        print(f"worker polling task queue {settings.task_queue!r}", flush=True)
        await stop.wait()
    await engine.dispose()
