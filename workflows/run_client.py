"""Reaching one flow run from outside Temporal by its `flow_runs.workflow_id`, whichever shape
hosts it: a `FlowRun` workflow of its own (conversations started before `BotConversation`), or
a `BotConversation`, which takes the signal only while that run is its active one."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from temporalio.client import Client

from models.payloads.engine import ExternalEvent, RunExternalEvent, RunPaymentSettled
from models.payloads.integrations import PaymentOutcome
from models.settings import Settings
from workflows.bot_conversation import BotConversationWorkflow
from workflows.flow_run import FlowRunWorkflow

HOSTED = re.compile(
    r"^(?P<workflow>.+)@(?P<run>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)


def hosting_workflow(run_workflow_id: str) -> tuple[str, str | None]:
    """(workflow id, workflow run id) to reach the run: its `BotConversation` and the workflow
    run the flow began in, or its own `FlowRun` workflow (no run id)."""
    hosted = HOSTED.match(run_workflow_id)
    return (hosted["workflow"], hosted["run"]) if hosted else (run_workflow_id, None)


def run_page(settings: Settings, run_workflow_id: str) -> str:
    """The run's page in the Temporal UI: its `FlowRun`, or the workflow run it began in."""
    workflow_id, hosted = hosting_workflow(run_workflow_id)
    url = settings.temporal_workflows_url(workflow_id)
    return f"{url}/{hosted}" if hosted else url


async def signal_external_event(client: Client, run_workflow_id: str, event: ExternalEvent) -> None:
    """Deliver an external event to the run (raises `RPCError` NOT_FOUND when it has ended)."""
    workflow_id, hosted = hosting_workflow(run_workflow_id)
    if hosted is None:
        handle = client.get_workflow_handle_for(FlowRunWorkflow.run, workflow_id)
        await handle.signal(FlowRunWorkflow.external_event, event)
    else:
        bot = client.get_workflow_handle_for(BotConversationWorkflow.run, workflow_id)
        await bot.signal(
            BotConversationWorkflow.external_event,
            RunExternalEvent(run_workflow_id=run_workflow_id, event=event),
        )


async def signal_payment_settled(
    client: Client, run_workflow_id: str, outcome: PaymentOutcome
) -> None:
    """Tell the run Stripe settled a payment (raises `RPCError` NOT_FOUND when it has ended)."""
    workflow_id, hosted = hosting_workflow(run_workflow_id)
    if hosted is None:
        handle = client.get_workflow_handle_for(FlowRunWorkflow.run, workflow_id)
        await handle.signal(FlowRunWorkflow.payment_settled, outcome)
    else:
        bot = client.get_workflow_handle_for(BotConversationWorkflow.run, workflow_id)
        await bot.signal(
            BotConversationWorkflow.payment_settled,
            RunPaymentSettled(run_workflow_id=run_workflow_id, outcome=outcome),
        )


async def query_position(
    client: Client, run_workflow_id: str, rpc_timeout: timedelta
) -> dict[str, Any] | None:
    """The run's live node, waiting flag and variables; None when it is no longer active."""
    workflow_id, hosted = hosting_workflow(run_workflow_id)
    if hosted is None:
        handle = client.get_workflow_handle_for(FlowRunWorkflow.run, workflow_id)
        return await handle.query(FlowRunWorkflow.position, rpc_timeout=rpc_timeout)
    bot = client.get_workflow_handle_for(BotConversationWorkflow.run, workflow_id)
    return await bot.query(
        BotConversationWorkflow.position, run_workflow_id, rpc_timeout=rpc_timeout
    )
