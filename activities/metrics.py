"""The worker's own counters, recorded through the Temporal runtime's metric meter.

They are exported beside the Temporal SDK's metrics (on the worker's Prometheus port when the
worker runs with one, see `worker/main.py`); without a metrics runtime they cost nothing.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.common import MetricCounter
from temporalio.runtime import Runtime

from models.payloads.engine import StepRecord

# Counters by runtime and name, created once: `activity.metric_meter()` is a new meter for
# every activity run, so creating the counter on it cost a registry lookup per message.
_counters: dict[tuple[int, str], MetricCounter] = {}


def count(name: str, description: str, **labels: str) -> None:
    """Add one to the counter `botbuilder_<name>` with these labels and the activity's own
    (namespace, task queue, activity type); outside an activity, as when a test calls one
    directly, nothing is counted."""
    if not activity.in_activity():
        return
    try:
        client = activity.client()
    except RuntimeError:  # an activity run without a worker (a test's ActivityEnvironment)
        return
    runtime = client.service_client.config.runtime or Runtime.default()
    key = (id(runtime), name)  # a runtime lives as long as the process
    counter = _counters.get(key)
    if counter is None:
        counter = runtime.metric_meter.create_counter(f"botbuilder_{name}", description)
        _counters[key] = counter
    info = activity.info()
    context = {
        "namespace": info.namespace,
        "task_queue": info.task_queue,
        "activity_type": info.activity_type,
    }
    counter.add(1, {**context, **labels})


def message_in(channel: str) -> None:
    count("messages_in", "Inbound messages stored (each provider message once).", channel=channel)


def messages_in(channels: list[str]) -> None:
    """`message_in` for each message stored, by its channel's kind."""
    for channel in channels:
        message_in(channel)


def message_out(channel: str) -> None:
    count("messages_out", "Outbound messages the channel's provider accepted.", channel=channel)


def send_failed(channel: str, reason: str | int | None, *, permanent: bool) -> None:
    """A send the provider refused: for good (`sends_failed`) or for now (`sends_retried`)."""
    name, description = (
        ("sends_failed", "Messages that could not be sent, by the provider's error code.")
        if permanent
        else ("send_attempts_retried", "Send attempts refused for now and retried, by code.")
    )
    count(name, description, channel=channel, reason=str(reason or "unknown"))


def flow_started() -> None:
    count("flow_runs_started", "Flow runs started.")


def flow_finished(status: str) -> None:
    count(
        "flow_runs_finished",
        "Flow runs ended, by status (completed, failed, abandoned, cancelled).",
        status=status,
    )


def node_errors(steps: list[StepRecord]) -> None:
    """Count the steps that ended in an error, by node type."""
    for step in steps:
        if step.outcome == "error":
            count("node_errors", "Nodes that failed, by node type.", node_type=step.node_type)
