"""`botbuilder bench --channel whatsapp`: the production path under load, beside its floor.

It starts a fresh `botbuilder up` (free ports, a temporary folder) whose WhatsApp Graph API URL
(`BOTBUILDER_WHATSAPP_GRAPH_URL`) is the bench's own fake Graph API on 127.0.0.1, applies
`bench_whatsapp_bot.yaml`, and sends signed Cloud API webhooks to the channel's real webhook
URL (see `stack/wa_load.py`). Scenarios:

- menu: `--users` contacts at once, each running `--conversations` 4-step menu conversations
  back to back (closed loop: a contact writes again once answered);
- echo: a new contact every 1/`--rate` s for `--duration` s, each sending one message
  (open loop: every message opens a conversation);
- waiting: `--waiting` new contacts, one every 1/`--rate` s, each left waiting at the menu's
  first question; then the worker's and PostgreSQL's memory.

Beside each, the floor (`stack/bench_floor.py`) runs the same load shape on the same Temporal
server. With `TEMPORAL_ADDRESS` and/or `DATABASE_URL` set, the stack's API and workers use that
Temporal cluster and database instead of embedded ones.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, text
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from channels.config import webhook_urls
from models.db import make_engine, make_session_factory
from models.secret_box import SecretBox
from models.settings import Settings
from models.tenancy_tables import Organization
from services.bots.file import load_bot_file
from services.bots.sync import apply_bot
from stack.bench import LocalStack, PeakSampler, pss, subscribe_everything
from stack.bench_floor import Floor
from stack.ports import free_port
from stack.wa_load import ECHO, MENU, Figures, WhatsAppLoad, percentile
from stack.webhook_listener import WebhookListener

BOT_FILE = Path(__file__).with_name("bench_whatsapp_bot.yaml")
SECRETS = {
    "BENCH_WA_ACCESS_TOKEN": "bench-access-token",
    "BENCH_WA_APP_SECRET": "bench-app-secret",
    "BENCH_WA_VERIFY_TOKEN": "bench-verify-token",
}
PHONE_NUMBER_ID = "100000000000001"


@dataclass
class WhatsAppBenchOptions:
    users: int = 10
    conversations: int = 10
    rate: float = 10.0
    duration: float = 20.0
    scenarios: tuple[str, ...] = ("menu", "echo")
    floor: bool = True
    workers: int = 1
    timeout: float = 30.0
    keep: bool = False
    webhook: bool = False
    waiting: int = 10_000


def options_from(args: argparse.Namespace) -> WhatsAppBenchOptions:
    """The options of `botbuilder bench --channel whatsapp` (see `stack/cli.py`)."""
    return WhatsAppBenchOptions(
        users=args.users,
        conversations=args.conversations,
        rate=args.rate or 10.0,
        duration=args.duration,
        scenarios=("menu", "echo") if args.scenario == "all" else (args.scenario,),
        floor=not args.no_floor,
        workers=args.bench_workers,
        timeout=args.timeout,
        keep=args.keep,
        webhook=args.webhook,
        waiting=args.waiting,
    )


def part_of(process: psutil.Process) -> str:
    """Which part of the stack a child of `up` is."""
    try:
        command = process.cmdline()
    except psutil.Error:
        return "up"
    if command[-2:] == ["stack.cli", "worker"]:
        return "workers"
    if command[-2:] == ["stack.cli", "api"]:
        return "API"
    if command[1:3] == ["server", "start-dev"]:
        return "Temporal"
    return "up"


def stack_parts(stack: LocalStack) -> list[tuple[str, psutil.Process]]:
    """Every process of the stack now, with its part: the embedded Temporal, the workers,
    PostgreSQL (its server and a process per connection), the API, and `up` itself."""
    postgres = stack.processes()
    known = {process.pid for process in postgres}
    up = psutil.Process(stack.process.pid)
    parts = [("PostgreSQL", process) for process in postgres] + [("up", up)]
    for child in up.children(recursive=True):
        if child.pid not in known:
            parts.append((part_of(child), child))
    return parts


CpuReading = dict[int, tuple[str, float]]


def read_cpu(parts: list[tuple[str, psutil.Process]]) -> CpuReading:
    """The CPU seconds each process has used, by its id, with its part."""
    reading: CpuReading = {}
    for part, process in parts:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        reading[process.pid] = (part, times.user + times.system)
    return reading


def spent(before: CpuReading, after: CpuReading) -> dict[str, float]:
    """The CPU seconds each part used between two readings; a process that began between them
    (a new database connection's) counts from zero."""
    used: dict[str, float] = {}
    for pid, (part, seconds) in after.items():
        used[part] = used.get(part, 0.0) + seconds - before.get(pid, (part, 0.0))[1]
    return used


CPU_PARTS = ("Temporal", "workers", "PostgreSQL", "API", "floor worker and client")


def describe_cpu(cpu: dict[str, float], messages: int, label: str) -> str:
    """The core-seconds per message in all, then each part's (`up` itself is in the total
    only: it supervises, and spends next to nothing)."""
    per = {part: seconds / max(1, messages) for part, seconds in cpu.items()}
    parts = ", ".join(f"{part} {per[part]:.3f}" for part in CPU_PARTS if part in per)
    return f"; {sum(per.values()):.3f} core-s/msg ({label}: {parts})"


TIMEOUT_COUNTERS = ("start_to_close_timeout", "schedule_to_start_timeout")


def read_counters(metrics_url: str) -> tuple[float, float] | None:
    """From the embedded Temporal's Prometheus `/metrics`: the workflow tasks it has timed out
    (not completed in time, or not taken in time from a worker's sticky queue) and the
    `DescribeNamespace` requests it has answered; None when it has none (an external cluster)."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=10) as response:
            exposition = response.read().decode()
    except OSError:
        return None
    timeouts = described = 0.0
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            operation = sample.labels.get("operation")
            if (
                family.name in TIMEOUT_COUNTERS
                and operation == "TimerActiveTaskWorkflowTaskTimeout"
            ):
                timeouts += sample.value
            elif family.name == "service_requests" and operation == "DescribeNamespace":
                described += sample.value
    return timeouts, described


async def workflow_task_timeouts(metrics_url: str, client: Client) -> float | None:
    """The workflow tasks the embedded Temporal has timed out until now. The server publishes
    its counters about once a second, so this asks it one `DescribeNamespace` and waits for a
    publication that counts it: that one counts everything before it too."""
    counters = read_counters(metrics_url)
    if counters is None:
        return None
    await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=client.namespace)
    )
    deadline = time.monotonic() + 30
    while (now := read_counters(metrics_url)) is not None and now[1] <= counters[1]:
        if time.monotonic() > deadline:
            raise RuntimeError("the Temporal server's metrics stopped counting requests")
        await asyncio.sleep(0.1)
    return None if now is None else now[0]


def describe(
    label: str,
    figures: Figures,
    cpu: dict[str, float] | None = None,
    task_timeouts: float | None = None,
    cpu_label: str = "whole stack",
) -> str:
    """One line of figures: rate, reply and webhook latency, answers and losses."""
    latencies = figures.latencies_ms
    line = (
        f"    {label:<10} {figures.sent / figures.window():6.1f} msg/s; "
        f"reply p50 {percentile(latencies, 0.5):.0f} ms, "
        f"p99 {percentile(latencies, 0.99):.0f} ms; "
        f"webhook p50 {percentile(figures.webhook_ms, 0.5):.0f} ms, "
        f"p99 {percentile(figures.webhook_ms, 0.99):.0f} ms; "
        f"answers {figures.replies} of {figures.expected}, {figures.timeouts} timeouts, "
        f"{figures.mismatches} mismatches, {figures.duplicates} duplicates"
    )
    if figures.http_errors:
        line += f", {figures.http_errors} webhook errors"
    if task_timeouts is not None:
        line += f", {task_timeouts:.0f} workflow tasks timed out"
    if cpu is not None:
        line += describe_cpu(cpu, figures.sent, cpu_label)
    return line


def describe_by_role(figures: Figures) -> str:
    """Reply latency for each kind of message of the script, in its order."""
    parts = (
        f"{role} p50 {percentile(latencies, 0.5):.0f} ms, p99 {percentile(latencies, 0.99):.0f} ms"
        for role, latencies in figures.latencies_by_role.items()
    )
    return "    by step    " + "; ".join(parts)


def describe_waiting(stack: LocalStack, figures: Figures, worker_peak: float) -> str:
    """How fast the waiting conversations started, and the memory they hold."""
    started = figures.sent - figures.timeouts - figures.mismatches
    return (
        f"    waiting    {started} conversations waiting at a question after "
        f"{figures.window():.1f} s ({started / figures.window():.1f} starts/s); "
        f"worker {pss(stack.worker_processes()):.0f} MB now, peak {worker_peak:.0f} MB; "
        f"database {pss(stack.postgres_processes()):.0f} MB"
    )


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


async def apply_bench_bot(
    database_url: str, secret_key: str, api_url: str, webhook: WebhookListener | None
) -> str:
    """The bench bot in the stack's database, its organization subscribed to every event on
    `webhook` when given; the WhatsApp channel's webhook URL."""
    desired = load_bot_file(BOT_FILE, {**os.environ, **SECRETS})
    engine = make_engine(database_url)
    box = SecretBox(secret_key)
    try:
        async with make_session_factory(engine).begin() as session:
            report = await apply_bot(session, desired, box, "bench")
            if webhook is not None:
                organization = await session.scalar(
                    select(Organization.id).where(Organization.slug == desired.organization)
                )
                assert organization is not None
                webhook.secret = await subscribe_everything(session, box, organization, webhook.url)
    finally:
        await engine.dispose()
    channel = report.channels[0]
    return webhook_urls(api_url, channel.kind, str(channel.id))["webhook"]


async def run_scenarios(
    stack: LocalStack,
    load: WhatsAppLoad,
    client: Client,
    floor: Floor | None,
    options: WhatsAppBenchOptions,
) -> None:
    """Each scenario on the stack, then the same shape on the floor; prints as it goes."""
    # the floor's CPU: the embedded Temporal server's, and this process's (its worker and client)
    floor_parts = [("floor worker and client", psutil.Process())] + [
        (part, process) for part, process in stack_parts(stack) if part == "Temporal"
    ]
    for scenario in options.scenarios:
        if scenario == "menu":
            messages = options.users * options.conversations * len(MENU)
            title = (
                f"menu (closed loop): {options.users} users × {options.conversations} "
                f"conversations, {messages} messages"
            )
            run = load.closed_loop(MENU, options.users, options.conversations)
            turns = options.conversations * len(MENU)
            floor_run = floor and floor.turns(options.users, turns)
        elif scenario == "echo":
            title = f"echo (open loop): {options.rate:g} new contacts/s for {options.duration:g} s"
            run = load.open_loop(ECHO, options.rate, options.duration)
            floor_run = floor and floor.starts(options.rate, options.duration)
        else:
            duration = options.waiting / options.rate
            title = (
                f"waiting (open loop): {options.waiting} new contacts at {options.rate:g}/s, "
                "each left at a question"
            )
            run = load.open_loop(MENU[:1], options.rate, duration)
            floor_run = floor and floor.starts(options.rate, duration)
        print(f"  {title}", flush=True)
        cpu = read_cpu(stack_parts(stack))
        before = await workflow_task_timeouts(stack.temporal_metrics_url, client)
        with PeakSampler(stack.worker_processes()) as worker_memory:
            figures = await run
        used = spent(cpu, read_cpu(stack_parts(stack)))
        after = await workflow_task_timeouts(stack.temporal_metrics_url, client)
        timeouts = None if before is None or after is None else after - before
        print(describe("botbuilder", figures, used, timeouts), flush=True)
        if scenario == "menu":
            print(describe_by_role(figures), flush=True)
        if scenario == "waiting":
            print(describe_waiting(stack, figures, worker_memory.peak), flush=True)
        if floor_run is not None:
            cpu = read_cpu(floor_parts)
            floor_figures = await floor_run
            used = spent(cpu, read_cpu(floor_parts))
            print(describe("floor", floor_figures, used, cpu_label="floor"), flush=True)
        print(f"    load average {load_average()}", flush=True)


ANALYTICS_CHECK = text("""
    SELECT (SELECT count(*) FROM analytics_facts),
           (SELECT count(*) FROM messages WHERE direction = 'inbound'),
           (SELECT coalesce(sum(messages_in), 0) FROM analytics_bot_hours)""")


async def report_analytics_drain(database_url: str, timeout: float = 30.0) -> None:
    """How long after the last reply the analytics outbox is empty, and whether the rollups'
    inbound messages then match the stored ones."""
    engine = make_engine(database_url)
    start = time.monotonic()
    try:
        while True:
            async with engine.connect() as connection:
                facts, stored, rolled = (await connection.execute(ANALYTICS_CHECK)).one()
            waited = time.monotonic() - start
            if not facts or waited > timeout:
                break
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()
    print(
        f"  analytics: {facts} facts left {waited:.1f} s after the last reply; "
        f"messages in {rolled} rolled up of {stored} stored",
        flush=True,
    )


async def run_whatsapp_bench(
    stack: LocalStack, database_url: str, temporal_address: str, options: WhatsAppBenchOptions
) -> None:
    secret_key = Settings(data_dir=stack.data_dir).resolved_secret_key()
    listener = WebhookListener(0, None, quiet=True).start() if options.webhook else None
    webhook_url = await apply_bench_bot(database_url, secret_key, stack.api_url, listener)
    load = WhatsAppLoad(webhook_url, SECRETS["BENCH_WA_APP_SECRET"], PHONE_NUMBER_ID)
    load.timeout = options.timeout
    await load.start_graph(stack.graph_port)
    client = await Client.connect(temporal_address)
    floor = Floor(client, options.timeout) if options.floor else None
    print(
        f"botbuilder bench --channel whatsapp: webhooks to {webhook_url}, replies to the "
        f"fake Graph API on 127.0.0.1:{stack.graph_port}; load average {load_average()}",
        flush=True,
    )
    try:
        await run_scenarios(stack, load, client, floor, options)
    finally:
        await load.close()
    await report_analytics_drain(database_url)
    if listener is not None:
        print(
            f"  webhooks: {listener.received} deliveries received, "
            f"{listener.invalid} with an invalid signature",
            flush=True,
        )


def whatsapp_bench(options: WhatsAppBenchOptions) -> int:
    """Run the scenarios on a fresh local stack and print the report."""
    data_dir = Path(tempfile.mkdtemp(prefix="bb-bench-wa-"))
    graph_port = free_port()
    print(f"Starting a local stack in {data_dir} ...", flush=True)
    env = {"BOTBUILDER_WHATSAPP_GRAPH_URL": f"http://127.0.0.1:{graph_port}", **SECRETS}
    stack = LocalStack(data_dir, options.workers, env=env, external_cluster=True)
    stack.graph_port = graph_port
    begin = time.monotonic()
    try:
        stack.wait_ready()
        print(f"Stack ready after {time.monotonic() - begin:.0f} s", flush=True)
        database_url = os.environ.get("DATABASE_URL") or stack.database_url()
        temporal_address = os.environ.get("TEMPORAL_ADDRESS") or stack.temporal_address
        asyncio.run(run_whatsapp_bench(stack, database_url, temporal_address, options))
        return 0
    finally:
        stack.close(options.keep)
