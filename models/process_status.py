"""What `botbuilder up` tells the API about the processes it supervises (a JSON file in the
data folder, shown on `/health`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

STATUS_FILE = "processes.json"


def status_path(data_dir: Path) -> Path:
    return data_dir / STATUS_FILE


def write_status(data_dir: Path, processes: dict[str, dict[str, Any]]) -> None:
    """Replace the file atomically, so a reader never sees half of it."""
    path = status_path(data_dir)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(processes, indent=1))
    os.replace(partial, path)


def read_status(data_dir: Path) -> dict[str, dict[str, Any]] | None:
    """Each supervised process by name (`running`, `pid`, `restarts`, `last_exit`,
    `last_restart_at`), or None when `up` is not supervising this data folder."""
    try:
        return json.loads(status_path(data_dir).read_text())
    except (OSError, ValueError):
        return None


def clear_status(data_dir: Path) -> None:
    status_path(data_dir).unlink(missing_ok=True)
