"""Reaching a contact's conversation from outside Temporal: signal-with-start, durable once it
returns (used by channel ingress and by proactive starts)."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from models.payloads.engine import ContactRef, ConversationInput, FlowStart, FlowStartResult
from models.tables import Channel
from workflows.conversation import ConversationWorkflow, conversation_workflow_id
from workflows.summaries import conversation_summary


async def signal_conversation(
    client: Client, task_queue: str, bot_id: str, channel_id: str, channel_kind: str,
    contact: ContactRef, signal: str, argument: Any,
) -> str:  # fmt: skip
    """Send `signal` to the contact's conversation, starting it if needed; returns its id."""
    workflow_id = conversation_workflow_id(bot_id, channel_id, contact.external_id)
    await client.start_workflow(
        ConversationWorkflow.run,
        ConversationInput(bot_id=bot_id, channel_id=channel_id, channel_kind=channel_kind,
                          contact=contact),
        id=workflow_id, task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        start_signal=signal, start_signal_args=[argument],
        static_summary=conversation_summary(channel_kind, contact.external_id),
    )  # fmt: skip
    return workflow_id


async def start_flow_for_contact(
    client: Client, task_queue: str, channel: Channel, contact: ContactRef, start: FlowStart
) -> FlowStartResult:
    """Start a flow in the contact's conversation (update-with-start), unless the contact is
    already in a flow or with an agent; raises `WorkflowUpdateFailedError` when refused."""
    return await client.execute_update_with_start_workflow(
        ConversationWorkflow.start_flow,
        start,
        start_workflow_operation=WithStartWorkflowOperation(
            ConversationWorkflow.run,
            ConversationInput(
                bot_id=str(channel.bot_id),
                channel_id=str(channel.id),
                channel_kind=channel.kind,
                contact=contact,
            ),
            id=conversation_workflow_id(str(channel.bot_id), str(channel.id), contact.external_id),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            task_queue=task_queue,
            static_summary=conversation_summary(channel.kind, contact.external_id),
        ),
        id=start.key,
    )
