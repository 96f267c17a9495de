"""The data folder of `botbuilder up` is readable by its owner only, and Temporal (which has no
authentication) listens on loopback only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import psutil
import pytest

from tests.test_up_smoke import UpProcess

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def modes(data_dir: Path) -> dict[str, int]:
    """Permission bits of every folder and regular file under `data_dir` (sockets left out)."""
    found = {}
    for folder, folders, files in os.walk(data_dir):
        for name in [*folders, *files]:
            path = Path(folder, name)
            mode = path.lstat().st_mode
            if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
                found[str(path.relative_to(data_dir))] = stat.S_IMODE(mode)
    return found


def test_the_data_folder_is_owner_only_and_temporal_listens_on_loopback(data_dir: Path) -> None:
    data_dir.chmod(0o755)
    (data_dir / "logs").mkdir(mode=0o755)
    old_log = data_dir / "logs" / "api.log"
    old_log.write_text("written by an older version\n")
    old_log.chmod(0o644)

    up = UpProcess(data_dir)
    try:
        up.wait_ready()
        found = modes(data_dir)
        for name in ("temporal.db", "secret.key", "logs/api.log", "logs/temporal.log"):
            assert found[name] == 0o600, (name, oct(found[name]))
        assert found["logs"] == found["postgres"] == 0o700
        opened = {name: oct(mode) for name, mode in found.items() if mode & 0o077}
        assert opened == {}, f"readable by others: {opened}"
        # PostgreSQL runs as another system user when started as root: it may pass through
        # the folder (0711), but nobody else may list it
        assert stat.S_IMODE(data_dir.stat().st_mode) == (0o711 if os.geteuid() == 0 else 0o700)

        temporal = next(
            child
            for child in psutil.Process(up.process.pid).children(recursive=True)
            if "start-dev" in child.cmdline()
        )
        listening = {c.laddr for c in temporal.net_connections() if c.status == "LISTEN"}
        ports = {address.port: address.ip for address in listening}
        assert (
            ports[up.temporal_port]
            == ports[up.ui_port]
            == ports[up.temporal_metrics_port]
            == "127.0.0.1"
        )
    finally:
        assert up.stop() == 0
