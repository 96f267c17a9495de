"""The worker process: registers every workflow and activity on the task queue and runs them."""

from __future__ import annotations

import asyncio
import signal
from functools import partial

from temporalio.worker import Worker

from models.db import make_engine, make_session_factory
from models.settings import Settings
from worker.registry import build_activities, workflow_runner, workflows
from worker.temporal_server import ensure_search_attributes
from workflows.client import connect_temporal
from workflows.webhook_client import wake_deliveries_on_commit


async def run_worker(settings: Settings, database_url: str) -> None:
    """Run until SIGINT/SIGTERM, then finish in-flight tasks and exit."""
    client = await connect_temporal(settings)
    await ensure_search_attributes(client, settings.temporal_namespace)
    engine = make_engine(database_url)
    wake_deliveries_on_commit(partial(asyncio.sleep, 0, client), settings.task_queue)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
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
