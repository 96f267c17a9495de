"""Every workflow and activity the worker runs, in one place."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.ai_completion import AiCompleter
from activities.conversation_store import ConversationStore
from activities.create_payment import PaymentCreator
from activities.http_request import HttpRequester
from activities.inbox_store import InboxStore
from activities.outreach import OutreachStarter
from activities.send_email import EmailSender
from activities.send_message import MessageSender
from activities.send_sms import SmsSender
from activities.sync_crm import CrmSync
from activities.webhook_delivery import WebhookDeliverer
from models.secret_box import SecretBox
from models.settings import Settings
from workflows.bot_conversation import BotConversationWorkflow
from workflows.conversation import ConversationWorkflow
from workflows.flow_run import FlowRunWorkflow
from workflows.outreach import OutreachWorkflow
from workflows.webhook_delivery import WebhookDeliveryWorkflow


def workflow_runner(sandboxed: bool = True) -> WorkflowRunner:
    """The sandbox, with the project's own packages passed through; or, `sandboxed=False`
    (`BOTBUILDER_WORKFLOW_SANDBOX=false`, the production default), no sandbox.

    The sandbox runs each workflow in isolation and restricts the standard library (a workflow
    calling `datetime.now()` or `random` fails its task), which costs about a sixth of the
    stack's CPU per message. The test suite runs every workflow sandboxed (`tests/conftest.py`),
    so non-deterministic code fails there before it ships; determinism also rests on review and
    on the replay test (`tests/test_replay.py`). Passing `workflows`, `models` and `channels`
    through spares re-importing them for every new workflow.
    """
    if not sandboxed:
        return UnsandboxedWorkflowRunner()
    restrictions = SandboxRestrictions.default.with_passthrough_modules(
        "workflows", "flowlang", "models", "services", "channels"
    )
    return SandboxedWorkflowRunner(restrictions=restrictions)


def workflows() -> list[type]:
    return [
        BotConversationWorkflow,
        ConversationWorkflow,
        FlowRunWorkflow,
        OutreachWorkflow,
        WebhookDeliveryWorkflow,
    ]


def build_worker(
    client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> Worker:
    """A worker running every workflow and activity on the settings' task queue."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=workflows(),
        activities=build_activities(settings, sessions),
        workflow_runner=workflow_runner(settings.workflow_sandbox),
        max_concurrent_workflow_tasks=settings.worker_workflow_tasks,
        max_concurrent_local_activities=settings.worker_local_activities,
        max_cached_workflows=settings.worker_cached_workflows,
    )


def build_activities(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> list[Any]:
    """Activity callables bound to the database and the secret key."""
    store = ConversationStore(sessions)
    box = SecretBox(settings.resolved_secret_key())
    sender = MessageSender(sessions, box, settings)
    completer, requester = AiCompleter(settings), HttpRequester(settings)
    webhooks = WebhookDeliverer(sessions, box, settings)
    inbox, outreach = InboxStore(sessions), OutreachStarter(sessions)
    return [
        *store.activities(),
        sender.send_message,
        requester.http_request,
        completer.ai_completion,
        *inbox.activities(),
        *outreach.activities(),
        EmailSender(sessions, box, settings).send_email,
        SmsSender(sessions, box, settings).send_sms,
        *PaymentCreator(sessions, box, settings).activities(),
        CrmSync(sessions, box, settings).sync_crm,
        webhooks.deliver_webhooks,
    ]
