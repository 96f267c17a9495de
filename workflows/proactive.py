"""`ProactiveStartWorkflow`: starts a flow for a list of contacts, in batches, with progress."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from models.proactive import ProactiveProgress, ProactiveStart
    from workflows.activity_names import START_CONVERSATION_FLOWS

BATCH_SIZE = 100


@workflow.defn(name="ProactiveStart")
class ProactiveStartWorkflow:
    """Hands each contact's conversation a `start_flow` request; query `progress` meanwhile."""

    def __init__(self) -> None:
        self._progress = ProactiveProgress(total=0)

    @workflow.query
    def progress(self) -> ProactiveProgress:
        return self._progress

    @workflow.run
    async def run(self, params: ProactiveStart) -> ProactiveProgress:
        self._progress = ProactiveProgress(
            total=len(params.contacts) + len(params.refused), refused=dict(params.refused)
        )
        for offset in range(0, len(params.contacts), BATCH_SIZE):
            batch = params.model_copy(
                update={"contacts": params.contacts[offset : offset + BATCH_SIZE], "refused": {}}
            )
            self._progress.started += await workflow.execute_activity(
                START_CONVERSATION_FLOWS, batch, result_type=int,
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
            )  # fmt: skip
        self._progress.done = True
        return self._progress
