"""Recorded conversation histories replay against the current workflow code without
non-determinism: a deploy never breaks conversations that are already running.

Re-record after an intentional, versioned change of workflow logic with
`BOTBUILDER_RECORD_HISTORIES=1 pytest -m record_history` (see the README).
"""

from __future__ import annotations

import json

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.changed_flow_run import ChangedFlowRun
from tests.helpers import HISTORIES
from worker.registry import workflows


def recorded() -> list[WorkflowHistory]:
    return [
        WorkflowHistory.from_json(path.stem.split("@")[0], path.read_text())  # id@run
        for path in sorted(HISTORIES.glob("*/*.json"))
    ]


async def replay(workflow_classes: list[type], histories: list[WorkflowHistory]) -> dict[str, str]:
    """Replay each history; the failures by workflow id (empty when all replay cleanly)."""
    replayer = Replayer(workflows=workflow_classes, data_converter=pydantic_data_converter)
    failures: dict[str, str] = {}
    for history in histories:
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        if result.replay_failure is not None:
            failures[history.workflow_id] = str(result.replay_failure)
    return failures


def workflow_type(history: WorkflowHistory) -> str:
    first = json.loads(history.to_json())["events"][0]
    return first["workflowExecutionStartedEventAttributes"]["workflowType"]["name"]


async def test_recorded_histories_replay_without_nondeterminism():
    histories = recorded()
    assert {workflow_type(h) for h in histories} == {
        "BotConversation",
        "Conversation",
        "FlowRun",
        "Outreach",
        "WebhookDelivery",
    }
    assert await replay(workflows(), histories) == {}


async def test_an_incompatible_change_is_caught():
    flow_runs = [h for h in recorded() if workflow_type(h) == "FlowRun"]
    assert len(await replay([ChangedFlowRun], flow_runs)) == len(flow_runs)
