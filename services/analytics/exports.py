"""Raw conversations and messages of a bot for a period, streamed as PostgreSQL produces them.

Both formats come from `COPY (SELECT ...) TO STDOUT`, which streams rows from the server as it
reads them (no result set held anywhere); JSON objects are built by PostgreSQL, so Python only
passes rows along and memory stays flat whatever the size of the export.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from psycopg import AsyncConnection, sql
from sqlalchemy.ext.asyncio import AsyncEngine

from services.analytics.queries import Period

Kind = Literal["messages", "conversations"]

COLUMNS: dict[str, list[tuple[str, str]]] = {
    "messages": [
        ("id", "m.id"),
        ("created_at", "m.created_at"),
        ("conversation_id", "m.conversation_id"),
        ("contact", "k.external_id"),
        ("channel", "k.channel_kind"),
        ("direction", "m.direction"),
        ("type", "m.type"),
        ("status", "m.status"),
        ("sent_by_agent", "m.sent_by_user_id IS NOT NULL"),
        ("text", "m.text"),
    ],
    "conversations": [
        ("id", "c.id"),
        ("started_at", "c.started_at"),
        ("contact", "k.external_id"),
        ("contact_name", "k.name"),
        ("channel", "k.channel_kind"),
        ("status", "c.status"),
        ("last_message_at", "c.last_message_at"),
        ("closed_at", "c.closed_at"),
        ("tags", "array_to_string(c.tags, ' ')"),
    ],
}
SOURCES = {
    "messages": """FROM messages m JOIN conversations c ON c.id = m.conversation_id
                   JOIN contacts k ON k.id = c.contact_id
                   WHERE c.bot_id = ANY({bots}) AND m.created_at >= {start}
                     AND m.created_at < {end} ORDER BY m.created_at, m.id""",
    "conversations": """FROM conversations c JOIN contacts k ON k.id = c.contact_id
                        WHERE c.bot_id = ANY({bots}) AND c.started_at >= {start}
                          AND c.started_at < {end} ORDER BY c.started_at, c.id""",
}


def export_query(kind: Kind, period: Period, as_json: bool) -> sql.Composed:
    """The SELECT of an export: CSV columns, or one JSON object text per row."""
    columns = COLUMNS[kind]
    if as_json:
        pairs = ", ".join(f"'{name}', {expression}" for name, expression in columns)
        selected = f"json_build_object({pairs})::text"
    else:
        selected = ", ".join(f"{expression} AS {name}" for name, expression in columns)
    return sql.SQL("SELECT " + selected + " " + SOURCES[kind]).format(
        bots=sql.Literal([str(bot) for bot in period.bot_ids]) + sql.SQL("::uuid[]"),
        start=sql.Literal(period.start),
        end=sql.Literal(period.end),
    )


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection[Any]]:
    """psycopg's own connection under a pooled SQLAlchemy one (for COPY and named cursors)."""
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
        yield driver


async def stream_csv(engine: AsyncEngine, kind: Kind, period: Period) -> AsyncIterator[bytes]:
    """The export as CSV with a header row, in the chunks PostgreSQL sends."""
    query = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER)").format(
        export_query(kind, period, as_json=False)
    )
    async with driver_connection(engine) as connection:
        async with connection.cursor() as cursor, cursor.copy(query) as copy:
            async for chunk in copy:
                yield bytes(chunk)


async def stream_json(engine: AsyncEngine, kind: Kind, period: Period) -> AsyncIterator[bytes]:
    """The export as a JSON array of objects, one per row as PostgreSQL sends them."""
    # CSV framing with a quote and a delimiter JSON never contains raw: each row arrives as
    # its JSON text and a newline, with nothing escaped.
    query = sql.SQL(
        "COPY ({}) TO STDOUT WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"
    ).format(export_query(kind, period, as_json=True))
    lead = b"[\n"
    async with driver_connection(engine) as connection:
        async with connection.cursor() as cursor, cursor.copy(query) as copy:
            async for row in copy:
                yield lead + bytes(row).rstrip(b"\n").replace(b"\n", b",\n")
                lead = b",\n"
    yield b"[]\n" if lead == b"[\n" else b"\n]\n"
