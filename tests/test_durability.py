"""A worker killed with SIGKILL in the middle of a flow loses nothing and sends nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from models.conversation_tables import FlowRun, Message
from models.db import make_session_factory
from models.settings import Settings
from tests.helpers import WebChat, api_client, chain, make_web_bot, node, wait_for

TASK_QUEUE = "botbuilder-durability"
ROOT = Path(__file__).resolve().parent.parent


class SlowInventory(BaseHTTPRequestHandler):
    """Counts calls; the first one hangs (the worker is killed meanwhile), later ones answer."""

    calls = 0
    first_call = threading.Event()
    release = threading.Event()

    def do_GET(self) -> None:
        cls = type(self)
        cls.calls += 1
        if cls.calls == 1:
            cls.first_call.set()
            cls.release.wait(timeout=30)
        body = b'{"in_stock": 3}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def inventory() -> Iterator[str]:
    SlowInventory.calls = 0
    SlowInventory.first_call.clear()
    SlowInventory.release.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowInventory)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/stock"
    SlowInventory.release.set()
    server.shutdown()


def start_worker(settings: Settings, log: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    """`botbuilder worker` as its own process, on the settings' task queue (one no in-test
    worker polls) and with their Temporal, database and Graph API; its output goes to `log`
    (default: stderr piped, stdout dropped)."""
    stdout, stderr = (log, subprocess.STDOUT) if log else (subprocess.DEVNULL, subprocess.PIPE)
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "TEMPORAL_ADDRESS": settings.resolved_temporal_address(),
        "BOTBUILDER_TASK_QUEUE": settings.task_queue,
        "BOTBUILDER_SECRET_KEY": settings.resolved_secret_key(),
        "BOTBUILDER_DATA_DIR": str(settings.data_dir),
        "BOTBUILDER_OUTBOUND_ALLOWED_HOSTS": settings.outbound_allowed_hosts,
        "BOTBUILDER_WHATSAPP_GRAPH_URL": settings.whatsapp_graph_url,
        "BOTBUILDER_WORKER_METRICS_PORT": "0",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "stack.cli", "worker"],
        cwd=ROOT,
        env=env,
        stdout=stdout,
        stderr=stderr,
    )


def flow(inventory_url: str) -> dict[str, Any]:
    return chain(
        node("welcome", "message", content="Welcome to the shop"),
        node("stock", "api", apiUrl=inventory_url, timeoutSeconds=1, retryAttempts=3),
        node("count", "message", content="We have {{api.response.in_stock}} left"),
        node(
            "ask", "question", content="How many do you want?", variable="qty", validation="number"
        ),
        node("done", "message", content="Reserved {{qty}}"),
    )


async def test_sigkill_between_a_send_and_the_next_question_loses_and_repeats_nothing(
    test_settings: Settings,
    temporal_env: WorkflowEnvironment,
    db_engine: AsyncEngine,
    clean_db: None,
    inventory: str,
):
    settings = test_settings.model_copy(update={"task_queue": TASK_QUEUE})
    _bot, channel = await make_web_bot(db_engine, flow(inventory))
    first = start_worker(settings)
    second: subprocess.Popen[bytes] | None = None
    try:
        async with api_client(settings) as api:
            chat = WebChat(api, channel, "durable-contact")
            await chat.say("hi")
            # "Welcome" is sent; the worker is now inside the stock call, before the question.
            await wait_for(
                lambda: _event_set(SlowInventory.first_call),
                timeout=30,
                what="the worker to reach the stock call",
            )
            assert await chat.replies() == ["Welcome to the shop"]
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            SlowInventory.release.set()

            second = start_worker(settings)
            replies = await chat.wait_replies(3, timeout=60)
            assert replies == ["Welcome to the shop", "We have 3 left", "How many do you want?"]
            await chat.say("2")
            replies = await chat.wait_replies(4, timeout=30)

        assert replies[-1] == "Reserved 2"

        async def run_statuses() -> list[str] | None:
            async with make_session_factory(db_engine)() as session:
                statuses = list((await session.scalars(select(FlowRun.status))).all())
            return statuses if "running" not in statuses else None

        assert await wait_for(run_statuses, what="the run to finish") == ["completed"]
        async with make_session_factory(db_engine)() as session:
            outbound = (
                await session.scalars(
                    select(Message.text)
                    .where(Message.direction == "outbound")
                    .order_by(Message.created_at)
                )
            ).all()
        assert outbound == [
            "Welcome to the shop",
            "We have 3 left",
            "How many do you want?",
            "Reserved 2",
        ]
        assert SlowInventory.calls == 2  # the call cut off by the kill was retried once
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=20)


async def _event_set(event: threading.Event) -> bool:
    return event.is_set()
