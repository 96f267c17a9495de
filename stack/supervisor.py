"""Keeps `botbuilder up`'s processes running: one that dies is started again, backing off."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from models.process_status import clear_status, write_status
from stack.embedded_postgres import EmbeddedPostgres

FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
STABLE_AFTER_SECONDS = 60.0  # a process that ran this long starts again without delay
STOP_TIMEOUT_SECONDS = 15.0


@dataclass
class Child:
    """A supervised process and how to start it again."""

    name: str
    start: Callable[[], subprocess.Popen]
    process: subprocess.Popen
    started_at: float = field(default_factory=time.monotonic)
    restarts: int = 0
    backoff: float = FIRST_BACKOFF_SECONDS
    restart_at: float | None = None  # when a dead process is due to start again
    last_exit: int | None = None
    last_restart_at: str | None = None

    def status(self) -> dict[str, Any]:
        return {
            "running": self.process.poll() is None,
            "pid": self.process.pid,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "last_restart_at": self.last_restart_at,
        }


@dataclass
class Supervisor:
    """Starts the parts in order, restarts any that dies, and stops them in reverse order."""

    data_dir: Path
    log: Callable[[str], None] = print
    children: list[Child] = field(default_factory=list)
    postgres: EmbeddedPostgres | None = None
    stopping: bool = False

    def add(self, name: str, start: Callable[[], subprocess.Popen]) -> None:
        self.children.append(Child(name, start, start()))
        self.publish()

    def spawn(self, name: str, args: list[str], env: dict[str, str], log_file: Path) -> None:
        """A child running `args`, its output appended to `log_file`."""

        def start() -> subprocess.Popen:
            with log_file.open("ab") as log:
                return subprocess.Popen(
                    args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )

        self.add(name, start)

    def dead_child(self) -> str | None:
        for child in self.children:
            if child.process.poll() is not None:
                return child.name
        return None

    def watch(self) -> None:
        """One round: note processes that died, start those whose backoff has passed."""
        now = time.monotonic()
        changed = False
        for child in self.children:
            code = child.process.poll()
            if code is None or self.stopping:
                continue
            if child.restart_at is None:
                if now - child.started_at >= STABLE_AFTER_SECONDS:
                    child.backoff = FIRST_BACKOFF_SECONDS
                child.last_exit, child.restart_at = code, now + child.backoff
                self.log(
                    f"the {child.name} process stopped unexpectedly (exit code {code}); "
                    f"restarting it in {child.backoff:.0f} s"
                )
                changed = True
            elif now >= child.restart_at:
                child.process, child.started_at, child.restart_at = child.start(), now, None
                child.restarts += 1
                child.backoff = min(child.backoff * 2, MAX_BACKOFF_SECONDS)
                child.last_restart_at = datetime.now(UTC).isoformat()
                self.log(
                    f"restarted the {child.name} process (pid {child.process.pid}, "
                    f"restart {child.restarts})"
                )
                changed = True
        if changed:
            self.publish()

    def publish(self) -> None:
        write_status(self.data_dir, {child.name: child.status() for child in self.children})

    def stop_all(self) -> None:
        self.stopping = True
        for child in reversed(self.children):
            process = child.process
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        clear_status(self.data_dir)
        if self.postgres is not None:
            self.postgres.stop()
