"""The worker process: registers every workflow and activity on the task queue and runs them."""

from __future__ import annotations

import asyncio
import gc
import signal
from functools import partial

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from channels.http_pool import close_shared_session
from models.db import make_engine, make_session_factory, warm
from models.settings import Settings
from services.analytics.drainer import draining
from worker.registry import build_worker
from workflows.client import connect_temporal, ensure_search_attributes
from workflows.webhook_client import wake_deliveries_on_commit

FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0


async def connect_when_up(
    settings: Settings, stop: asyncio.Event, runtime: Runtime | None
) -> Client | None:
    """Temporal's client, waiting (1 s, 2 s ... 30 s apart) while it is unreachable; None when
    the worker is told to stop first."""
    delay = FIRST_RETRY_SECONDS
    while True:
        try:
            return await connect_temporal(settings, runtime)
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
    runtime = metrics_runtime(settings)  # one per process: it binds the metrics port
    client = await connect_when_up(settings, stop, runtime)
    if client is None:
        return
    await ensure_search_attributes(client, settings.temporal_namespace)
    engine = make_engine(database_url, pre_ping=False)  # activities retry instead
    wake_deliveries_on_commit(partial(asyncio.sleep, 0, client), settings.task_queue)
    sessions = make_session_factory(engine)
    await warm(engine)
    # What start-up built (modules, mappers, schemas) lives as long as the process: moved out of
    # the collector's reach, a full collection no longer walks it in the middle of a message.
    gc.freeze()
    async with (
        draining(database_url, sessions, settings.analytics_drain_seconds),
        build_worker(client, settings, sessions),
    ):
        print(f"worker polling task queue {settings.task_queue!r}", flush=True)
        await stop.wait()
    await close_shared_session()
    await engine.dispose()


def metrics_runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime serving the SDK's metrics and the worker's own counters
    (`activities/metrics.py`) in the Prometheus format, or None when the port is 0 or taken."""
    if not settings.worker_metrics_port:
        return None
    address = f"{settings.worker_metrics_host}:{settings.worker_metrics_port}"
    prometheus = PrometheusConfig(
        bind_address=address, counters_total_suffix=True, durations_as_seconds=True
    )
    try:
        return Runtime(telemetry=TelemetryConfig(metrics=prometheus))
    except ValueError as err:  # the port is taken: run without metrics rather than not at all
        print(f"worker metrics are off: {err} ({address})", flush=True)
        return None
