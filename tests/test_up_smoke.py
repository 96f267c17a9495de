"""`botbuilder up` as a newcomer runs it: everything starts, answers, stops, and data persists."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from stack.ports import free_port

STARTUP_TIMEOUT = 120.0


class UpProcess:
    """`botbuilder up` in a subprocess on free ports, reading its output."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.api_port, self.ui_port = free_port(), free_port()
        self.temporal_port, self.metrics_port = free_port(), free_port()
        self.temporal_metrics_port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS")}
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stack.cli",
                "--data-dir",
                str(data_dir),
                "up",
                "--api-port",
                str(self.api_port),
                "--temporal-port",
                str(self.temporal_port),
                "--temporal-ui-port",
                str(self.ui_port),
                "--temporal-metrics-port",
                str(self.temporal_metrics_port),
                "--worker-metrics-port",
                str(self.metrics_port),
                *extra,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self.api = f"http://127.0.0.1:{self.api_port}"

    def output(self) -> str:
        return Path(self.log.name).read_text()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while "BotBuilder is up." not in self.output():
            assert self.process.poll() is None, f"up exited early:\n{self.output()}"
            assert time.monotonic() < deadline, f"up did not start:\n{self.output()}"
            time.sleep(0.2)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)


def stopped(process: psutil.Process) -> bool:
    """Gone or a zombie (a process may vanish between two questions about it)."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def graphql(api: str, query: str) -> dict:
    response = httpx.post(f"{api}/graphql", json={"query": query}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def metric_total(url: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples carrying these labels, read in the Prometheus format."""
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return sum(
        sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def chat_once(api: str, channel_id: str, contact: str) -> None:
    """Say hello to the demo bot over the web channel and wait for its answer."""
    base = f"{api}/channels/web/{channel_id}"
    posted = httpx.post(
        f"{base}/messages", json={"contact_id": contact, "text": "hola"}, timeout=10
    )
    assert posted.status_code == 202, posted.text
    deadline = time.monotonic() + 30
    while True:
        messages = httpx.get(f"{base}/contacts/{contact}/messages", timeout=10).json()
        if any(message["direction"] == "outbound" for message in messages):
            return
        assert time.monotonic() < deadline, f"no answer from the demo bot: {messages}"
        time.sleep(0.2)


def test_up_runs_everything_stops_cleanly_and_keeps_data(data_dir: Path) -> None:
    up = UpProcess(data_dir, "--workers", "2")
    try:
        up.wait_ready()
        output = up.output()
        assert f"{up.api}/graphql" in output and str(data_dir) in output
        assert f"Console:                {up.api}/console/" in output
        console = httpx.get(f"{up.api}/console/", timeout=10)
        assert console.status_code == 200 and '<div id="root">' in console.text
        health = httpx.get(f"{up.api}/health", timeout=10)
        assert health.status_code == 200
        assert health.json()["database"]["ok"] and health.json()["temporal"]["ok"]
        assert graphql(up.api, "{ __typename }") == {"data": {"__typename": "Query"}}
        graphiql = httpx.get(f"{up.api}/graphql", headers={"Accept": "text/html"}, timeout=10)
        assert "graphiql" in graphiql.text.lower()
        ui = httpx.get(f"http://127.0.0.1:{up.ui_port}/", timeout=10)
        assert ui.status_code == 200
        children = psutil.Process(up.process.pid).children(recursive=True)
        postgres_pid = int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
        postgres = psutil.Process(postgres_pid)  # before the stop: then it may be gone already
        workers = [c for c in children if c.cmdline()[-2:] == ["stack.cli", "worker"]]
        assert len(workers) == 2 and len(children) >= 4  # 2 workers, the API, Temporal

        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "stack.cli",
                "--data-dir",
                str(data_dir),
                "up",
                "--api-port",
                str(free_port()),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert "already running" in second.stderr

        assert up.stop() == 0
        for child in [*children, postgres]:
            assert stopped(child)
    finally:
        if up.process.poll() is None:
            up.process.kill()

    again = UpProcess(data_dir)
    try:
        again.wait_ready()
        bots = httpx.get(f"{again.api}/health", timeout=10)
        assert bots.status_code == 200
        assert (data_dir / "temporal.db").exists()
        assert "Chat with the demo bot: botbuilder chat demo" in again.output()
        import psycopg

        with psycopg.connect(f"postgresql://postgres@/botbuilder?host={data_dir}/postgres") as db:
            assert db.execute("SELECT count(*) FROM bots").fetchone() == (1,)
            (web_channel,) = db.execute("SELECT id FROM channels WHERE kind = 'web'").fetchone()

        api_metrics = f"{again.api}/metrics"
        worker_metrics = f"http://127.0.0.1:{again.metrics_port}/metrics"
        assert f"API metrics:            {api_metrics}" in again.output()
        assert f"Worker metrics:         {worker_metrics}" in again.output()
        inbound = {"name": "botbuilder_messages_in_total", "channel": "web"}
        outbound = {"name": "botbuilder_messages_out_total", "channel": "web"}
        before = [metric_total(worker_metrics, **inbound), metric_total(worker_metrics, **outbound)]
        chat_once(again.api, str(web_channel), "metrics-check")
        assert metric_total(worker_metrics, **inbound) == before[0] + 1
        assert metric_total(worker_metrics, **outbound) > before[1]
        schedule_to_start = "temporal_workflow_task_schedule_to_start_latency_count"
        assert metric_total(worker_metrics, schedule_to_start) > 0  # the SDK's own metrics
        route = "/channels/web/{channel_id}/messages"
        assert (
            metric_total(api_metrics, "botbuilder_api_requests_total", route=route, status="202")
            == 1
        )
        assert (
            metric_total(
                api_metrics, "botbuilder_webhook_requests_total", channel="web", outcome="accepted"
            )
            == 1
        )
        assert metric_total(api_metrics, "botbuilder_ingress_seconds_count", channel="web") == 1
        temporal_metrics = f"http://127.0.0.1:{again.temporal_metrics_port}/metrics"
        assert f"Temporal metrics:       {temporal_metrics}" in again.output()
        signals = {
            "name": "service_requests_total",
            "operation": "SignalWithStartWorkflowExecution",
        }
        deadline = time.monotonic() + 30  # the server publishes its counters every few seconds
        while metric_total(temporal_metrics, **signals) < 1:  # the message's, by the API
            assert time.monotonic() < deadline, "the Temporal metrics never counted the message"
            time.sleep(0.5)
        # Visibility keeps only the indexes its lists use; a filter on another column still works.
        with sqlite3.connect(data_dir / "temporal.db") as temporal_db:
            indexes = {
                name
                for (name,) in temporal_db.execute(
                    "SELECT name FROM sqlite_master WHERE tbl_name = 'executions_visibility' "
                    "AND type = 'index' AND sql IS NOT NULL"
                )
            }
        assert "by_keyword_01" in indexes and "by_task_queue" not in indexes
        assert len(indexes) == 17  # of 59: the lists' own and one per search attribute
        for query in ("ContactId = 'metrics-check'", "TaskQueue = 'botbuilder'"):
            assert asyncio.run(workflow_ids(f"127.0.0.1:{again.temporal_port}", query))
    finally:
        assert again.stop() == 0


async def workflow_ids(address: str, query: str) -> list[str]:
    """The workflows a visibility query finds, once it finds any (visibility lags)."""
    client = await Client.connect(address)
    deadline = time.monotonic() + 30
    while not (found := [execution.id async for execution in client.list_workflows(query)]):
        assert time.monotonic() < deadline, f"no workflow found by {query}"
        await asyncio.sleep(0.5)
    return found


def worker_processes(up: UpProcess) -> list[psutil.Process]:
    children = psutil.Process(up.process.pid).children(recursive=True)
    return [c for c in children if c.cmdline()[-2:] == ["stack.cli", "worker"]]


def test_up_restarts_a_killed_worker_and_stays_healthy(data_dir: Path) -> None:
    up = UpProcess(data_dir)
    try:
        up.wait_ready()
        [worker] = worker_processes(up)
        worker.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:  # /health answers 200 throughout: messages are durable in Temporal
            health = httpx.get(f"{up.api}/health", timeout=10)
            assert health.status_code == 200, health.text
            status = health.json()["processes"]["worker"]
            if status["restarts"] == 1 and status["running"]:
                break
            assert time.monotonic() < deadline, f"the worker was not restarted:\n{up.output()}"
            time.sleep(0.2)
        assert status["last_exit"] == -signal.SIGKILL and status["pid"] != worker.pid
        assert "the worker process stopped unexpectedly (exit code -9)" in up.output()
        assert "restarted the worker process" in up.output()
        assert up.process.poll() is None  # the platform is still up

        import psycopg

        with psycopg.connect(f"postgresql://postgres@/botbuilder?host={data_dir}/postgres") as db:
            [channel] = db.execute("SELECT id FROM channels WHERE kind = 'web'").fetchone()
        chat = f"{up.api}/channels/web/{channel}"
        said = httpx.post(
            f"{chat}/messages", json={"contact_id": "after-restart", "text": "hola"}, timeout=10
        )
        assert said.status_code == 202, said.text
        while True:  # the restarted worker answers
            messages = httpx.get(f"{chat}/contacts/after-restart/messages", timeout=10).json()
            if any(m["direction"] == "outbound" for m in messages):
                break
            assert time.monotonic() < deadline, "the restarted worker did not answer"
            time.sleep(0.2)
        assert up.stop() == 0
        assert "Fatal Python error" not in (data_dir / "logs" / "worker.log").read_text()
        assert not (data_dir / "processes.json").exists()
    finally:
        if up.process.poll() is None:
            up.process.kill()


def test_port_in_use_is_a_one_line_error(data_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "stack.cli",
                "--data-dir",
                str(data_dir),
                "up",
                "--api-port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: port {port} is in use; choose another with --api-port / BOTBUILDER_API_PORT"
    )


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
