"""`WebhookDeliveryWorkflow`: one per webhook endpoint, drains its outbox for as long as it lives.

Woken by a `wake` signal when new deliveries commit (and every `IDLE_POLL` anyway), it runs the
`deliver_webhooks` activity until nothing is due, then sleeps until the earliest retry is due.
Each delivery keeps its own retry schedule in the database, so one failing event never holds
back the others. It ends when the endpoint is deleted or disabled, and continues as new as its
history grows.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from models.payloads.activity_names import DELIVER_WEBHOOKS
    from services.webhooks.rules import DrainRequest, DrainResult

IDLE_POLL = timedelta(minutes=10)
DRAINS_PER_RUN = 200
DELIVER = {
    "start_to_close_timeout": timedelta(minutes=5),
    "heartbeat_timeout": timedelta(seconds=10),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=10),
}


def delivery_workflow_id(endpoint_id: str) -> str:
    return f"webhook-endpoint-{endpoint_id}"


@workflow.defn(name="WebhookDelivery")
class WebhookDeliveryWorkflow:
    """Delivers one endpoint's events; `wake` says new deliveries were committed."""

    def __init__(self) -> None:
        self._woken = False

    @workflow.signal
    def wake(self) -> None:
        self._woken = True

    @workflow.run
    async def run(self, endpoint_id: str, drains_per_run: int = DRAINS_PER_RUN) -> str:
        """`drains_per_run`: drains before continuing as new (small in tests of the hand-over)."""
        for _ in range(drains_per_run):
            self._woken = False
            try:
                result = await workflow.execute_activity(
                    DELIVER_WEBHOOKS,
                    DrainRequest(endpoint_id=endpoint_id, now=workflow.now()),
                    result_type=DrainResult,
                    **DELIVER,
                )
            except ActivityError:
                result = DrainResult()  # the database is unreachable: try again after a poll
            if result.stop:
                return "stopped: the endpoint was deleted or disabled"
            if result.more_due:
                continue
            wait = IDLE_POLL
            if result.next_due is not None:
                wait = min(wait, result.next_due - workflow.now())
            if wait > timedelta(0):
                try:
                    await workflow.wait_condition(lambda: self._woken, timeout=wait)
                except TimeoutError:
                    pass
            if workflow.info().is_continue_as_new_suggested():
                break
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(args=[endpoint_id, drains_per_run])
