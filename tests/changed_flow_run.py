"""A careless "new version" of the flow run, for proving the replay test catches it."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.payloads.engine import FlowRunInput


@workflow.defn(name="FlowRun")
class ChangedFlowRun:
    """Sleeps instead of interpreting the flow: its commands differ from any recorded run."""

    @workflow.run
    async def run(self, params: FlowRunInput) -> None:
        await workflow.sleep(timedelta(seconds=1))
