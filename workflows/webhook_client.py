"""Waking endpoints' delivery workflows from outside Temporal (signal-with-start), coalesced: at
most one signal per endpoint per `interval` from each process, however many events commit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)

from services.webhooks import outbox as webhook_outbox
from workflows.search_attributes import WEBHOOK_ENDPOINT_ID
from workflows.webhook_delivery import WebhookDeliveryWorkflow, delivery_workflow_id

logger = logging.getLogger(__name__)


def endpoint_search_attributes(endpoint_id: str) -> TypedSearchAttributes:
    return TypedSearchAttributes([SearchAttributePair(WEBHOOK_ENDPOINT_ID, endpoint_id)])


async def wake_endpoint(client: Client, task_queue: str, endpoint_id: str) -> None:
    """Signal the endpoint's delivery workflow, starting it when it is not running."""
    await client.start_workflow(
        WebhookDeliveryWorkflow.run,
        endpoint_id,
        id=delivery_workflow_id(endpoint_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        start_signal="wake",
        search_attributes=endpoint_search_attributes(endpoint_id),
    )


class DeliveryWaker:
    """Called (synchronously) with endpoint ids after a commit; signals them in the background."""

    def __init__(
        self, client: Callable[[], Awaitable[Client]], task_queue: str, interval: float = 0.5
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        self.interval = interval
        self._pending: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def __call__(self, endpoint_ids: set[str]) -> None:
        self._pending |= endpoint_ids
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        while self._pending:
            endpoints, self._pending = self._pending, set()
            try:
                client = await self.client()
                await asyncio.gather(
                    *(wake_endpoint(client, self.task_queue, id) for id in endpoints)
                )
            except Exception as err:  # a failed wake must not stop later ones
                # the workflows' idle poll delivers these events a little later
                logger.warning("could not wake webhook deliveries %s: %s", endpoints, err)
            await asyncio.sleep(self.interval)  # events committed meanwhile share one signal


def wake_deliveries_on_commit(client: Callable[[], Awaitable[Client]], task_queue: str) -> None:
    """From now on, committed transactions that wrote deliveries wake their endpoints."""
    webhook_outbox.on_commit(DeliveryWaker(client, task_queue))
