"""`botbuilder bench`: load the whole platform through the web channel and print what it did.

It starts its own `botbuilder up` on free ports in a temporary folder, creates a bot whose flow
asks, counts and branches on every turn, then:

1. Chat: `--contacts` contacts each send `--messages` messages, each only once the bot has
   answered the one before (as a person answers what they have seen: the engine sets aside what
   a contact writes before the question it would answer), the contacts together at most
   `--rate` messages per second. Every message is answered by exactly one bot message, so the
   n-th reply of a contact answers its n-th message; reply latency is the time from the moment
   the message was posted to the moment its reply was sent.
2. Waiting: `--waiting` further contacts each start a conversation and leave it waiting at a
   question, then the worker's and the database's memory are measured.

Memory is the proportional set size (PSS) of the processes, so shared pages are not counted
twice; the database figure is the sum over all PostgreSQL processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.conversation_tables import Contact, Conversation, Message
from models.db import make_engine, make_session_factory
from models.secret_box import SecretBox
from models.settings import Settings
from outbound.guard import OutboundPolicy
from services.bots.publishing import (
    add_channel,
    create_bot,
    create_flow,
    create_organization,
    publish_flow,
)
from services.webhooks.endpoints import EndpointSettings, create_endpoint
from stack.ports import free_port
from stack.webhook_listener import WebhookListener

READY_TIMEOUT_SECONDS = 180.0
STALL_SECONDS = 120.0
PROGRESS_SECONDS = 30.0
POLL_SECONDS = 0.05  # how soon a chatting contact sees its reply
TOTAL_POLL_SECONDS = 0.25  # a count of all the replies is read less often
POST_ATTEMPTS = 3
MB = 1024 * 1024


@dataclass
class BenchOptions:
    contacts: int = 100
    messages: int = 10
    rate: float = 100.0
    waiting: int = 10_000
    workers: int = 1
    keep: bool = False
    webhook: bool = False


def bench_flow() -> dict[str, object]:
    """Ask, remember the answer, branch on it, ask again: three nodes and one reply per message."""

    def node(node_id: str, node_type: str, **data: object) -> dict[str, object]:
        return {"id": node_id, "type": node_type, "position": {"x": 0, "y": 0}, "data": data}

    return {
        "name": "bench",
        "nodes": [
            node("start", "start"),
            node("ask", "question", content="You said {{last}}. What next?", variable="said"),
            node("remember", "setVariable", variable="last", value="{{said}}"),
            node("done", "condition", condition='said == "stop"'),
            node("bye", "end", content="Bye."),
        ],
        "edges": [
            {"id": "e0", "source": "start", "target": "ask"},
            {"id": "e1", "source": "ask", "target": "remember"},
            {"id": "e2", "source": "remember", "target": "done"},
            {"id": "e3", "source": "done", "target": "bye", "sourceHandle": "true"},
            {"id": "e4", "source": "done", "target": "ask", "sourceHandle": "false"},
        ],
    }


class LocalStack:
    """`botbuilder up` in a child process on free ports and a data folder of its own."""

    def __init__(
        self,
        data_dir: Path,
        workers: int,
        env: dict[str, str] | None = None,
        external_cluster: bool = False,
    ) -> None:
        """`env` is added to the stack's environment; `external_cluster` keeps
        `DATABASE_URL` / `TEMPORAL_ADDRESS` from the bench's own environment (else removed)."""
        self.data_dir = data_dir
        self.api_port = free_port()
        self.log = data_dir / "up.log"
        cluster = () if external_cluster else ("DATABASE_URL", "TEMPORAL_ADDRESS")
        env = {**{k: v for k, v in os.environ.items() if k not in cluster}, **(env or {})}
        env["BOTBUILDER_WEB_MESSAGES_PER_MINUTE"] = "0"  # the load comes from one address
        env["BOTBUILDER_OUTBOUND_ALLOWED_HOSTS"] = "127.0.0.1"  # the `--webhook` listener
        temporal_port, temporal_metrics_port = free_port(), free_port()
        self.temporal_address = f"127.0.0.1:{temporal_port}"
        self.temporal_metrics_url = f"http://127.0.0.1:{temporal_metrics_port}/metrics"
        self.graph_port = 0  # the fake Graph API's port, when a bench runs one
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
                str(temporal_port),
                "--temporal-ui-port",
                str(free_port()),
                "--temporal-metrics-port",
                str(temporal_metrics_port),
                "--workers",
                str(workers),
                "--worker-metrics-port",
                str(free_port()),
            ],
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            env=env,
        )
        self.api_url = f"http://127.0.0.1:{self.api_port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while "BotBuilder is up." not in self.log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"botbuilder up did not start:\n{self.log.read_text()}")
            time.sleep(0.2)

    def worker_processes(self) -> list[psutil.Process]:
        children = psutil.Process(self.process.pid).children(recursive=True)
        workers = [child for child in children if child.cmdline()[-2:] == ["stack.cli", "worker"]]
        if not workers:
            raise RuntimeError("no worker process is running")
        return workers

    def database_url(self) -> str:
        """The URL of the stack's embedded PostgreSQL (attaching to `up`'s server)."""
        from stack.embedded_postgres import start_embedded_postgres

        return start_embedded_postgres(self.data_dir).url

    def processes(self) -> list[psutil.Process]:
        """The embedded PostgreSQL's processes; none when the database is elsewhere."""
        if not (self.data_dir / "postgres" / "postmaster.pid").exists():
            return []
        return self.postgres_processes()

    def postgres_processes(self) -> list[psutil.Process]:
        pid_file = self.data_dir / "postgres" / "postmaster.pid"
        postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
        return [postmaster, *postmaster.children(recursive=True)]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)

    def close(self, keep: bool) -> None:
        """Stop the stack; remove its data folder unless `keep`."""
        self.stop()
        if keep:
            print(f"Kept {self.data_dir} (logs in {self.data_dir / 'logs'})")
        else:
            subprocess.run(["rm", "-rf", str(self.data_dir)], check=False)


def pss(processes: list[psutil.Process]) -> float:
    """Proportional set size of the processes, in MB (processes that exit count as 0)."""
    total = 0
    for process in processes:
        try:
            total += process.memory_full_info().pss
        except psutil.Error:
            continue
    return total / MB


class PeakSampler:
    """Samples processes' total memory twice a second in a thread and keeps the peak."""

    def __init__(self, processes: list[psutil.Process]) -> None:
        self.processes, self.peak = processes, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.peak = max(self.peak, pss(self.processes))

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class ChatLoad:
    """What the chat phase posted: per contact, the wall-clock time of each message."""

    posted: dict[str, list[float]] = field(default_factory=dict)
    ingress: list[float] = field(default_factory=list)
    errors: int = 0


async def post_message(
    http: httpx.AsyncClient, channel_id: str, contact: str, text: str, load: ChatLoad
) -> bool:
    """Posts one message; False when the API refused it. A connection that fails (the API
    closes one idle for its keep-alive time as the bench reuses it) is tried again: the message
    id makes a repeat deliver the message once."""
    started = time.time()
    body = {"contact_id": contact, "text": text, "message_id": str(uuid.uuid4())}
    for attempt in range(POST_ATTEMPTS):
        try:
            response = await http.post(f"/channels/web/{channel_id}/messages", json=body)
            break
        except httpx.TransportError:
            if attempt == POST_ATTEMPTS - 1:
                raise
    if response.status_code != 202:
        load.errors += 1
        return False
    load.ingress.append(time.time() - started)
    load.posted.setdefault(contact, []).append(started)
    return True


def replies_to(prefix: str, *columns: ColumnElement[Any]) -> Select[Any]:
    """`columns` of the bot's sent messages to the contacts named `prefix...`."""
    return (
        select(*columns)
        .select_from(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(
            Message.direction == "outbound",
            Message.status == "sent",
            Contact.external_id.like(f"{prefix}%"),
        )
    )


class BenchStalled(RuntimeError):
    """The bench stopped waiting for replies: none came for `STALL_SECONDS`, or the database
    could not be read."""


class Pace:
    """Moments `1 / rate` seconds apart, handed out in turn (no burst after an idle spell)."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = time.monotonic()

    async def slot(self) -> None:
        now = time.monotonic()
        due = max(self._next, now)
        self._next = due + self._interval
        await asyncio.sleep(due - now)


class Replies:
    """The bot's replies sent so far to the contacts named `prefix...`, read from the database
    while `watching`: per contact every `POLL_SECONDS`, or only their total, less often."""

    def __init__(self, prefix: str, per_contact: bool) -> None:
        sent = replies_to(prefix, func.count())
        self._per_contact = per_contact
        self._interval = POLL_SECONDS if per_contact else TOTAL_POLL_SECONDS
        self._query = (
            sent.add_columns(Contact.external_id).group_by(Contact.external_id)
            if per_contact
            else sent
        )
        self.by_contact: dict[str, int] = {}
        self.total = 0
        self._changed = asyncio.Condition()
        self._stopped: BenchStalled | None = None

    async def of(self, contact: str, count: int) -> None:
        """Until `contact` has had `count` replies."""
        await self._until(lambda: self.by_contact.get(contact, 0) >= count)

    async def reach(self, expected: int) -> float:
        """Seconds until `expected` replies in all; a long wait prints its progress."""
        begin = time.monotonic()
        while not await self._until(lambda: self.total >= expected, PROGRESS_SECONDS):
            print(
                f"            ... {self.total} of {expected} replies after "
                f"{time.monotonic() - begin:.0f} s",
                flush=True,
            )
        return time.monotonic() - begin

    async def _until(self, done: Callable[[], bool], timeout: float | None = None) -> bool:
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: done() or self._stopped is not None), timeout
                )
            except TimeoutError:
                return False
        if self._stopped is not None:
            raise self._stopped
        return True

    async def _stop(self, why: str) -> None:
        async with self._changed:
            self._stopped = BenchStalled(why)
            self._changed.notify_all()

    async def watch(self, database_url: str) -> None:
        """Polls until cancelled, or until no reply came for `STALL_SECONDS`."""
        engine = make_engine(database_url)
        progress_at = time.monotonic()
        try:
            while True:
                try:
                    async with engine.connect() as connection:
                        rows = (await connection.execute(self._query)).all()
                except Exception as error:  # the waiting contacts learn why, instead of hanging
                    await self._stop(f"the replies could not be read: {error}")
                    return
                total = sum(count for count, *_ in rows)
                now = time.monotonic()
                if total != self.total:
                    progress_at = now
                    async with self._changed:
                        if self._per_contact:
                            self.by_contact = {contact: count for count, contact in rows}
                        self.total = total
                        self._changed.notify_all()
                elif now - progress_at > STALL_SECONDS:
                    await self._stop(
                        f"no reply for {STALL_SECONDS:.0f} s, {self.total} sent; "
                        "run it again with --keep to read the stack's logs"
                    )
                    return
                await asyncio.sleep(self._interval)
        finally:
            await engine.dispose()


@contextlib.asynccontextmanager
async def watching(database_url: str, prefix: str, per_contact: bool) -> AsyncIterator[Replies]:
    """`Replies` kept current while the block runs."""
    replies = Replies(prefix, per_contact)
    poll = asyncio.create_task(replies.watch(database_url))
    try:
        yield replies
    finally:
        poll.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poll


async def run_chat_phase(
    http: httpx.AsyncClient, channel_id: str, options: BenchOptions, replies: Replies
) -> tuple[ChatLoad, float]:
    """Each contact posts its next message once it has the reply to the last (a refused post
    ends its chat), all of them at most `options.rate` a second; returns the load and the time
    the posting took."""
    load = ChatLoad()
    pace = Pace(options.rate)
    begin = time.monotonic()

    async def chat(contact: str) -> None:
        for turn in range(options.messages):
            await replies.of(contact, turn)
            await pace.slot()
            text = "hi" if turn == 0 else f"message {turn}"
            if not await post_message(http, channel_id, contact, text, load):
                return

    await asyncio.gather(*(chat(f"chat-{n}") for n in range(options.contacts)))
    return load, time.monotonic() - begin


async def replies_by_contact(database_url: str, prefix: str) -> dict[str, list[float]]:
    """Sent times (epoch seconds) of the bot's messages, by contact, oldest first."""
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as session:
            sent_at = func.extract("epoch", Message.status_updated_at)
            rows = await session.execute(
                replies_to(prefix, Contact.external_id, sent_at).order_by(Message.status_updated_at)
            )
            sent: dict[str, list[float]] = {}
            for contact, at in rows:
                sent.setdefault(contact, []).append(float(at))
            return sent
    finally:
        await engine.dispose()


def report(*lines: str) -> None:
    print("\n".join(lines), flush=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def create_bench_bot(database_url: str, webhook: WebhookTarget | None) -> str:
    """An organization, a bot with a web channel and the bench flow as default, and an endpoint
    subscribed to every event when `webhook` is given; the channel id."""
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine).begin() as session:
            organization = await create_organization(
                session, "Bench", f"bench-{uuid.uuid4().hex[:8]}"
            )
            if webhook is not None:
                webhook.listener.secret = await subscribe_everything(
                    session, webhook.box, organization.id, webhook.listener.url
                )
            bot = await create_bot(session, organization.id, "bench")
            channel = await add_channel(session, bot.id, "web", "Web")
            default = {"type": "default", "keywords": [], "pattern": None}
            flow = await create_flow(session, bot.id, bench_flow(), name="bench", trigger=default)
            await publish_flow(session, flow, "bench")
            bot.default_flow_id = flow.id
            return str(channel.id)
    finally:
        await engine.dispose()


@dataclass
class WebhookTarget:
    """The local endpoint receiving every event during the bench, and the stack's secret box."""

    listener: WebhookListener
    box: SecretBox


async def subscribe_everything(
    session: AsyncSession, box: SecretBox, organization_id: uuid.UUID, url: str
) -> str:
    """An endpoint of the organization subscribed to every event; its secret."""
    settings = EndpointSettings(url=url, events=["*"])
    _endpoint, secret = await create_endpoint(
        session, box, organization_id, None, settings, OutboundPolicy.parse("127.0.0.1/32")
    )
    return secret


async def run_bench(stack: LocalStack, database_url: str, options: BenchOptions) -> None:
    """Both phases against a running stack, printing each phase's figures when it ends."""
    webhook = None
    if options.webhook:
        box = SecretBox(Settings(data_dir=stack.data_dir).resolved_secret_key())
        webhook = WebhookTarget(WebhookListener(0, None, quiet=True).start(), box)
    channel_id = await create_bench_bot(database_url, webhook)
    workers = stack.worker_processes()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    report(
        f"botbuilder bench: {options.contacts} contacts × {options.messages} messages "
        f"(each once the last is answered, at most {options.rate:g} msg/s), "
        f"then {options.waiting} waiting conversations, "
        f"{options.workers} worker process{'es' if options.workers > 1 else ''}"
    )
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60, limits=limits) as http:
        with PeakSampler(workers) as peak:
            async with watching(database_url, "chat-", per_contact=True) as replies:
                load, posting = await run_chat_phase(http, channel_id, options, replies)
                expected = sum(len(times) for times in load.posted.values())
                drained = await replies.reach(expected)
        sent = await replies_by_contact(database_url, "chat-")
        latencies = [
            reply - posted
            for contact, times in load.posted.items()
            for posted, reply in zip(times, sent.get(contact, []), strict=False)
        ]
        total = posting + drained
        report(
            f"  chat      {expected} messages posted in {posting:.1f} s "
            f"({expected / posting:.1f} msg/s), {load.errors} refused",
            f"            all {len(latencies)} replies sent after {total:.1f} s "
            f"({len(latencies) / total:.1f} msg/s handled)",
            f"  latency   reply p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms",
            f"            ingress (POST to 202) p50 {percentile(load.ingress, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(load.ingress, 0.99) * 1000:.0f} ms",
            f"  memory    worker{'s' if len(workers) > 1 else ''} peak {peak.peak:.0f} MB "
            "during the chat phase",
        )
        if webhook is not None:
            listener = webhook.listener
            report(
                f"  webhooks  {listener.received} deliveries received by then, "
                f"{listener.invalid} with an invalid signature"
            )
        if options.waiting:
            begin = time.monotonic()
            semaphore = asyncio.Semaphore(32)
            waiting_load = ChatLoad()

            async def start_one(n: int) -> None:
                async with semaphore:
                    await post_message(http, channel_id, f"wait-{n}", "hi", waiting_load)

            with PeakSampler(workers) as waiting_peak:
                async with watching(database_url, "wait-", per_contact=False) as started:
                    await asyncio.gather(*(start_one(n) for n in range(options.waiting)))
                    await started.reach(options.waiting - waiting_load.errors)
            elapsed = time.monotonic() - begin
            report(
                f"  waiting   {options.waiting} conversations started and waiting at a question "
                f"after {elapsed:.1f} s ({options.waiting / elapsed:.1f} starts/s), "
                f"{waiting_load.errors} refused",
                f"  memory    worker{'s' if len(workers) > 1 else ''} {pss(workers):.0f} MB now, "
                f"peak {waiting_peak.peak:.0f} MB; "
                f"database {pss(stack.postgres_processes()):.0f} MB",
            )


def bench(options: BenchOptions) -> int:
    """Run the benchmark on a fresh local stack and print the report."""
    data_dir = Path(tempfile.mkdtemp(prefix="bb-bench-"))
    print(f"Starting a local stack in {data_dir} ...", flush=True)
    stack = LocalStack(data_dir, options.workers)
    try:
        stack.wait_ready()
        database_url = stack.database_url()
        print("Running ...", flush=True)
        asyncio.run(run_bench(stack, database_url, options))
        return 0
    except BenchStalled as stalled:
        print(f"botbuilder bench: stopped: {stalled}", file=sys.stderr, flush=True)
        return 1
    except httpx.TransportError as error:
        print(
            f"botbuilder bench: stopped: the API did not answer ({error!r}); "
            "run it again with --keep to read the stack's logs",
            file=sys.stderr,
            flush=True,
        )
        return 1
    finally:
        stack.close(options.keep)
