"""`OutreachWorkflow`: starts a flow for a list of contacts, paced, recording each outcome."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from models.payloads.activity_names import FINISH_OUTREACH, START_OUTREACH_BATCH
    from services.conversations.outreach import OutreachInput

DB = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_attempts=5),
}
BATCH = {
    "start_to_close_timeout": timedelta(minutes=2),
    "heartbeat_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_attempts=5),
}
PACE = timedelta(seconds=1)


@workflow.defn(name="Outreach")
class OutreachWorkflow:
    """Each second starts at most `messages_per_second` contacts (one activity per batch)."""

    @workflow.run
    async def run(self, params: OutreachInput) -> None:
        position: int | None = params.next_position
        error = None
        try:
            while position is not None:
                began = workflow.now()
                position = await workflow.execute_activity(
                    START_OUTREACH_BATCH,
                    args=[params.outreach_id, position],
                    result_type=int | None,
                    summary=f"start the contacts from #{position}",
                    **BATCH,
                )
                rest = PACE - (workflow.now() - began)
                if position is not None and rest > timedelta(0):
                    await workflow.sleep(rest, summary="pace: wait for the next second")
                if position is not None and workflow.info().is_continue_as_new_suggested():
                    workflow.continue_as_new(params.model_copy(update={"next_position": position}))
        except ActivityError as err:
            error = f"the start was interrupted: {err.cause or err}"
        await workflow.execute_activity(
            FINISH_OUTREACH, args=[params.outreach_id, error], summary="store the end", **DB
        )
