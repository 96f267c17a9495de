"""The data folder is its owner's alone: conversations (`temporal.db`, PostgreSQL), keys and
logs are readable by nobody else on the machine."""

from __future__ import annotations

import os
import stat
from pathlib import Path

OWNER_ONLY_UMASK = 0o077  # what this process and its children create: 0700 folders, 0600 files
PRIVATE_FOLDER, TRAVERSABLE_FOLDER, PRIVATE_FILE = 0o700, 0o711, 0o600


def create_owner_only() -> None:
    """From now on, this process (and every part it starts) creates owner-only files."""
    os.umask(OWNER_ONLY_UMASK)


def keep_owner_only(data_dir: Path, postgres_user: str | None = None) -> None:
    """Tighten the data folder and what is in it, including files an older version created.

    PostgreSQL keeps its own folder owner-only. When it runs as another system user (as root
    the embedded server does), the data folder stays traversable (0711) so that user reaches
    its folder; nothing in the data folder can be listed or read by others even then.
    """
    data_dir.chmod(TRAVERSABLE_FOLDER if postgres_user else PRIVATE_FOLDER)
    for child in data_dir.iterdir():
        if child.name != "postgres":
            _tighten(child)


def _tighten(path: Path) -> None:
    mode = path.lstat().st_mode
    if stat.S_ISDIR(mode):
        path.chmod(PRIVATE_FOLDER)
        for child in path.iterdir():
            _tighten(child)
    elif stat.S_ISREG(mode):
        path.chmod(PRIVATE_FILE)
