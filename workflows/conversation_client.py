"""Reaching a contact's conversation workflow from outside Temporal, the one way ingress, the API
and outreach use: signal-with-start (durable once it returns), update-with-start, and updates
to a running conversation.

New conversations start as `BotConversation`. A conversation still running as `Conversation`
(started before it) is signalled and updated alike: both take the same signal and update names
and arguments, and a start request for a running workflow id joins whatever type runs."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from models.agent_actions import AgentAction
from models.bot_tables import Channel
from models.payloads.engine import BotConversationInput, ContactRef, FlowStart, FlowStartResult
from workflows.bot_conversation import BotConversationWorkflow
from workflows.conversation_base import conversation_workflow_id
from workflows.interpreter import REVISION
from workflows.summaries import conversation_summary


async def signal_conversation(
    client: Client,
    task_queue: str,
    bot_id: str,
    channel_id: str,
    channel_kind: str,
    contact: ContactRef,
    signal: str,
    argument: Any,
) -> str:
    """Send `signal` to the contact's conversation, starting it if needed; returns its id."""
    workflow_id = conversation_workflow_id(bot_id, channel_id, contact.external_id)
    await client.start_workflow(
        BotConversationWorkflow.run,
        BotConversationInput(
            bot_id=bot_id,
            channel_id=channel_id,
            channel_kind=channel_kind,
            contact=contact,
            revision=REVISION,
        ),
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        start_signal=signal,
        start_signal_args=[argument],
        static_summary=conversation_summary(channel_kind, contact.external_id),
    )
    return workflow_id


def conversation_start(
    task_queue: str, bot_id: str, channel_id: str, channel_kind: str, contact: ContactRef
) -> WithStartWorkflowOperation[Any, Any]:
    """Starting the contact's conversation, or joining it when it runs (for update-with-start)."""
    return WithStartWorkflowOperation(
        BotConversationWorkflow.run,
        BotConversationInput(
            bot_id=bot_id,
            channel_id=channel_id,
            channel_kind=channel_kind,
            contact=contact,
            revision=REVISION,
        ),
        id=conversation_workflow_id(bot_id, channel_id, contact.external_id),
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        task_queue=task_queue,
        static_summary=conversation_summary(channel_kind, contact.external_id),
    )


async def start_flow_for_contact(
    client: Client, task_queue: str, channel: Channel, contact: ContactRef, start: FlowStart
) -> FlowStartResult:
    """Start a flow in the contact's conversation (update-with-start), unless the contact is
    already in a flow or with an agent; raises `WorkflowUpdateFailedError` when refused."""
    return await client.execute_update_with_start_workflow(
        BotConversationWorkflow.start_flow,
        start,
        start_workflow_operation=conversation_start(
            task_queue, str(channel.bot_id), str(channel.id), channel.kind, contact
        ),
        id=start.key,
    )


async def act_on_conversation(
    client: Client,
    workflow_id: str,
    action: AgentAction,
    key: str,
    start: WithStartWorkflowOperation[Any, Any] | None = None,
) -> str | None:
    """An agent's action, ordered with the conversation's messages by its workflow (started
    again by `start` when given, e.g. to take over an ended conversation); raises
    `WorkflowUpdateFailedError` when refused."""
    if start is not None:
        return await client.execute_update_with_start_workflow(
            BotConversationWorkflow.agent_action, action, start_workflow_operation=start, id=key
        )
    handle = client.get_workflow_handle_for(BotConversationWorkflow.run, workflow_id)
    return await handle.execute_update(BotConversationWorkflow.agent_action, action, id=key)
