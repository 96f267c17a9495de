"""Workflows run unsandboxed in production (the sandbox costs CPU on every workflow task) and
sandboxed throughout the test suite, where non-deterministic code must fail."""

from __future__ import annotations

from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from models.settings import Settings
from worker.registry import workflow_runner


def test_production_runs_unsandboxed_and_the_suite_sandboxed() -> None:
    assert Settings.model_fields["workflow_sandbox"].default is False
    assert Settings().workflow_sandbox is True  # tests/conftest.py, inherited by test stacks
    assert isinstance(workflow_runner(Settings().workflow_sandbox), SandboxedWorkflowRunner)
    assert isinstance(workflow_runner(False), UnsandboxedWorkflowRunner)
