"""`botbuilder up`: the whole platform on one machine, supervised until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import socket
import sqlite3
import sys
import time
from pathlib import Path
from typing import IO

import httpx
from temporalio.client import Client

from models.settings import Settings
from stack.demo import ensure_demo_bot
from stack.embedded_postgres import start_embedded_postgres
from stack.file_modes import create_owner_only, keep_owner_only
from stack.supervisor import Supervisor
from stack.temporal_server import keep_visibility_indexes, start_dev_server

READY_TIMEOUT_SECONDS = 90.0


class StackError(Exception):
    """A problem that stops `up` with a one-line message."""


def acquire_lock(data_dir: Path) -> IO[str]:
    """Hold an exclusive lock on the data folder, or fail saying who holds it."""
    lock_file = (data_dir / "up.lock").open("a+")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.seek(0)
        holder = lock_file.read().strip() or "another process"
        raise StackError(
            f"BotBuilder is already running on {data_dir} (pid {holder}); stop it first"
        ) from None
    lock_file.seek(0)
    lock_file.truncate()
    lock_file.write(str(os.getpid()))
    lock_file.flush()
    return lock_file


def check_port_free(host: str, port: int, option: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise StackError(f"port {port} is in use; choose another with {option}") from None


async def wait_for_temporal(address: str, namespace: str, deadline: float) -> None:
    while True:
        try:
            await Client.connect(address, namespace=namespace)
            return
        except Exception as err:
            if time.monotonic() > deadline:
                raise StackError(f"Temporal at {address} did not start: {err}") from None
            await asyncio.sleep(0.3)


def wait_for_http(url: str, deadline: float, supervisor: Supervisor) -> None:
    while True:
        dead = supervisor.dead_child()
        if dead:
            raise StackError(f"the {dead} process exited during start-up; see its log")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise StackError(f"{url} did not answer in {READY_TIMEOUT_SECONDS:.0f} s")
        time.sleep(0.2)


def run_up(settings: Settings) -> int:
    """Start everything, print where it is, and supervise until SIGINT or SIGTERM: a worker,
    the API or Temporal that dies is started again (see `stack.supervisor`)."""
    create_owner_only()
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    logs = data_dir / "logs"
    logs.mkdir(exist_ok=True)
    lock = acquire_lock(data_dir)
    if not settings.embedded_database:  # else the embedded PostgreSQL's start does it
        keep_owner_only(data_dir)
    check_port_free(settings.api_host, settings.api_port, "--api-port / BOTBUILDER_API_PORT")
    if settings.embedded_temporal:
        check_port_free("127.0.0.1", settings.temporal_port, "--temporal-port")
        check_port_free("127.0.0.1", settings.temporal_ui_port, "--temporal-ui-port")
        if settings.temporal_metrics_port:
            check_port_free("127.0.0.1", settings.temporal_metrics_port, "--temporal-metrics-port")
    for port in worker_metrics_ports(settings):
        check_port_free(settings.worker_metrics_host, port, "--worker-metrics-port")

    supervisor = Supervisor(data_dir, log=lambda line: print(line, flush=True))

    def request_stop(signum: int, _frame: object) -> None:
        supervisor.stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    try:
        database_url = settings.database_url
        if database_url is None:
            print("Starting PostgreSQL (embedded) ...", flush=True)
            postgres = start_embedded_postgres(data_dir)
            supervisor.postgres = postgres
            database_url = postgres.url
        temporal_address = settings.resolved_temporal_address()
        if settings.embedded_temporal:
            print("Starting Temporal dev server ...", flush=True)
            supervisor.add(
                "temporal",
                lambda: start_dev_server(
                    data_dir,
                    settings.temporal_port,
                    settings.temporal_ui_port,
                    logs / "temporal.log",
                    settings.temporal_metrics_port,
                ),
            )
        asyncio.run(wait_for_temporal(temporal_address, settings.temporal_namespace, deadline))
        if settings.embedded_temporal:
            try:
                keep_visibility_indexes(data_dir / "temporal.db")
            except sqlite3.Error as err:  # only slower: every list still answers
                print(f"warning: Temporal's visibility indexes were left as they are: {err}")

        print("Applying migrations ...", flush=True)
        from stack.migrate import upgrade

        upgrade(database_url)
        demo_bot = asyncio.run(ensure_demo_bot(database_url))

        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": temporal_address,
            "BOTBUILDER_DATA_DIR": str(data_dir),
            "BOTBUILDER_API_HOST": settings.api_host,
            "BOTBUILDER_API_PORT": str(settings.api_port),
            "BOTBUILDER_TEMPORAL_UI_URL": settings.resolved_temporal_ui_url(),
            "BOTBUILDER_SECRET_KEY": settings.resolved_secret_key(),
        }
        cli = [sys.executable, "-m", "stack.cli"]
        for number in range(1, settings.workers + 1):
            name = "worker" if settings.workers == 1 else f"worker-{number}"
            port = settings.worker_metrics_port and settings.worker_metrics_port + number - 1
            worker_env = {**env, "BOTBUILDER_WORKER_METRICS_PORT": str(port)}
            supervisor.spawn(name, [*cli, "worker"], worker_env, logs / f"{name}.log")
        supervisor.spawn("api", [*cli, "api"], env, logs / "api.log")
        api_url = f"http://{settings.api_host}:{settings.api_port}"
        wait_for_http(f"{api_url}/health", deadline, supervisor)
        print_summary(settings, api_url, data_dir, demo_bot)
        while not supervisor.stopping:
            supervisor.watch()
            time.sleep(0.2)
        print("Stopping ...", flush=True)
        return 0
    finally:
        supervisor.stop_all()
        lock.close()


def print_summary(settings: Settings, api_url: str, data_dir: Path, demo_bot: str) -> None:
    lines = [
        "BotBuilder is up.",
        f"  Console:                {api_url}/console/",
        f"  GraphQL API (GraphiQL): {api_url}/graphql",
        f"  Health:                 {api_url}/health",
        f"  API metrics:            {api_url}/metrics",
    ]
    if ports := worker_metrics_ports(settings):
        urls = ", ".join(f"http://{settings.worker_metrics_host}:{port}/metrics" for port in ports)
        lines.append(f"  Worker metrics:         {urls}")
    lines.append(f"  Temporal UI:            {settings.resolved_temporal_ui_url()}")
    lines.append(f"  Temporal gRPC:          {settings.resolved_temporal_address()}")
    if settings.embedded_temporal and settings.temporal_metrics_port:
        url = f"http://127.0.0.1:{settings.temporal_metrics_port}/metrics"
        lines.append(f"  Temporal metrics:       {url}")
    lines += [
        f"  Data folder:            {data_dir}",
        f"  Logs:                   {data_dir / 'logs'}",
        f"  Chat with the demo bot: botbuilder chat {demo_bot}",
        "Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)


def worker_metrics_ports(settings: Settings) -> list[int]:
    """The Prometheus port of each worker `up` starts (none when the setting is 0)."""
    base = settings.worker_metrics_port
    return [base + number for number in range(settings.workers)] if base else []
