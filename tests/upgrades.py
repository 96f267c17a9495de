"""Deploying workflow changes under running conversations: what the upgrade tests share."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from models.db import make_session_factory
from models.settings import Settings
from tests.helpers import chain, node
from worker.registry import build_activities, workflows
from workflows import bot_conversation, conversation_client

ORIGINAL_PATCHED = workflow.patched
ASK_AND_GREET = chain(  # a flow run that waits once, then answers and ends
    node("ask", "question", content="What is your name?", variable="name"),
    node("hi", "message", content="Hi {{name}}"),
)


def before_patch(*patch_ids: str) -> Callable[[str], bool]:
    """`workflow.patched` as the code before `patch_ids` behaved: those patches are never
    asked, so nothing is recorded and the old branches run."""

    def patched(asked: str) -> bool:
        return False if asked in patch_ids else ORIGINAL_PATCHED(asked)

    return patched


def on_revision(monkeypatch: pytest.MonkeyPatch, revision: int) -> None:
    """Conversations start, and continue as new, as the code of engine revision `revision` did
    (0: before revisions, every path chosen by `workflow.patched`)."""
    monkeypatch.setattr(conversation_client, "REVISION", revision)
    monkeypatch.setattr(bot_conversation, "REVISION", revision)


async def local_activities(
    client: Client, workflow_id: str, run_id: str | None = None
) -> list[str]:
    """The types of the local activities in a workflow run's history (the latest's unless
    `run_id`), in order."""
    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    names = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            details = event.marker_recorded_event_attributes.details
            if "data" in details:
                names.append(json.loads(details["data"].payloads[0].data)["activity_type"])
    return names


def engine_worker(
    env: WorkflowEnvironment, settings: Settings, engine: AsyncEngine, task_queue: str
) -> Worker:
    """A fresh worker (an empty workflow cache: a running conversation is replayed)."""
    return Worker(
        env.client,
        task_queue=task_queue,
        workflows=workflows(),
        activities=build_activities(settings, make_session_factory(engine)),
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
