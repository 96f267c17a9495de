"""Analytics at scale: fill a database with a bot's 90 days, then time every analytics query.

    .venv/bin/python bench/analytics.py seed   # 1,000,000 messages, 100,000 contacts, 50 flows
    .venv/bin/python bench/analytics.py run    # each query's time, and export rows per second

Uses the embedded PostgreSQL in `--data-dir` (default /tmp/bb-analytics-bench), or
`--database-url`. The rows are written with `generate_series` in a few statements, and the
rollups are summed from them in SQL, as the engine would have kept them.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from models.db import make_engine, make_session_factory
from services.analytics import exports as analytics_exports
from services.analytics import queries
from services.bots.publishing import (
    add_channel,
    create_bot,
    create_flow,
    create_organization,
    publish_flow,
)
from stack import migrate
from stack.embedded_postgres import start_embedded_postgres

DAYS, FLOWS = 90, 50
STARS = ["⭐ Muy mala", "⭐⭐ Mala", "⭐⭐⭐ Regular", "⭐⭐⭐⭐ Buena", "⭐⭐⭐⭐⭐ Excelente"]

# Raw rows: contacts spread evenly over the 90 days, one conversation each, messages alternating
# in/out every 20 s (a bot answer 0.3–3 s after each message), one run per conversation.
RAW = [
    """INSERT INTO contacts (bot_id, channel_kind, external_id, name, created_at, last_seen_at)
       SELECT :bot, 'web', 'contact-' || i, 'Contact ' || i, t, t
       FROM generate_series(1, :contacts) i,
            LATERAL (SELECT :start + (i::bigint * 7919 % 7776000) * interval '1 second' AS t) s""",
    """INSERT INTO conversations (bot_id, channel_id, contact_id, workflow_id, status, started_at,
                                  last_message_at, closed_at)
       SELECT :bot, :channel, id, 'seed-' || id, st,
              created_at, created_at + interval '4 minutes',
              CASE WHEN st IN ('abandoned', 'closed') THEN created_at + interval '1 day' END
       FROM (SELECT id, created_at, (ARRAY['abandoned', 'abandoned', 'abandoned', 'closed',
             'handed_off', 'active'])[1 + floor(random() * 6)::int] AS st
             FROM contacts WHERE bot_id = :bot) c""",
    """CREATE TEMP TABLE numbered AS SELECT row_number() OVER (ORDER BY id) AS n, id, started_at
       FROM conversations WHERE bot_id = :bot""",
    "CREATE INDEX ON numbered (n)",
    """INSERT INTO messages (conversation_id, channel_id, direction, type, content, text, status,
                             created_at, status_updated_at)
       SELECT c.id, :channel, d, 'text', '{}'::jsonb,
              CASE WHEN d = 'inbound' THEN (ARRAY['hola', 'precio', 'ayuda', 'pedido',
                   'horario'])[1 + (g % 5)] ELSE 'Respuesta ' || g END,
              CASE WHEN d = 'inbound' THEN 'received' ELSE 'delivered' END, t, t
       FROM generate_series(0, :messages - 1) g
       JOIN numbered c ON c.n = g % :contacts + 1,
       LATERAL (SELECT CASE WHEN (g / :contacts) % 2 = 0 THEN 'inbound' ELSE 'outbound' END AS d,
                c.started_at + (g / :contacts / 2) * interval '20 seconds'
                + CASE WHEN (g / :contacts) % 2 = 1
                       THEN (300 + (g::bigint * 7919) % 2700) * interval '1 millisecond'
                       ELSE interval '0' END AS t) x""",
    """INSERT INTO flow_runs (conversation_id, flow_id, flow_version_id, workflow_id, status,
                              current_node_id, started_at, ended_at, variables)
       SELECT c.id, f.id, f.published_version_id, 'seed-run-' || c.id, st,
              CASE st WHEN 'completed' THEN 'bye' ELSE 'rating' END,
              c.started_at, c.started_at + interval '2 minutes',
              jsonb_build_object('rating', (CAST(:stars AS text[]))[1 + (c.n * 31) % 5])
       FROM numbered c
       JOIN (SELECT row_number() OVER (ORDER BY id) - 1 AS k, id, published_version_id
             FROM flows WHERE bot_id = :bot) f ON f.k = c.n % :flows,
       LATERAL (SELECT (ARRAY['completed', 'completed', 'completed', 'abandoned',
                'failed'])[1 + (c.n / :flows % 5)::int] AS st) s""",
    """INSERT INTO flow_run_steps (flow_run_id, sequence, node_id, node_type, outcome, started_at,
                                   ended_at, duration_ms)
       SELECT r.id, s.seq, s.node, s.kind, s.outcome, r.started_at + s.seq * interval '20 s',
              r.started_at + s.seq * interval '20 s', 5
       FROM flow_runs r JOIN flows f ON f.id = r.flow_id AND f.bot_id = :bot,
       LATERAL (VALUES (1, 'intro', 'message', 'default'), (2, 'rating', 'button', '5'),
                       (3, 'bye', 'message', 'end')) s(seq, node, kind, outcome)
       WHERE s.seq = 1 OR r.status = 'completed'""",
    "ANALYZE",
]
# The rollups of those rows, summed as the engine keeps them.
ROLLUPS = [
    """INSERT INTO analytics_bot_hours (bot_id, hour, messages_in, messages_out, responses,
                                        response_ms_sum, response_bucket_0, response_bucket_1,
                                        response_bucket_2, response_bucket_3)
       SELECT :bot, date_trunc('hour', created_at, 'UTC'),
              count(*) FILTER (WHERE direction = 'inbound'),
              count(*) FILTER (WHERE direction = 'outbound'),
              count(ms), coalesce(sum(ms), 0), count(*) FILTER (WHERE ms <= 500),
              count(*) FILTER (WHERE ms > 500 AND ms <= 1000),
              count(*) FILTER (WHERE ms > 1000 AND ms <= 2000),
              count(*) FILTER (WHERE ms > 2000 AND ms <= 5000)
       FROM (SELECT m.direction, m.created_at,
                    CASE WHEN m.direction = 'outbound' AND lag(m.direction) OVER w = 'inbound'
                         THEN extract(epoch FROM m.created_at - lag(m.created_at) OVER w)
                              * 1000 END::bigint AS ms
             FROM messages m JOIN numbered c ON c.id = m.conversation_id
             WINDOW w AS (PARTITION BY m.conversation_id ORDER BY m.created_at)) x
       GROUP BY 2""",
    """INSERT INTO analytics_bot_hours AS b (bot_id, hour, new_contacts, conversations_started)
       SELECT :bot, date_trunc('hour', created_at, 'UTC'), count(*), count(*)
       FROM contacts WHERE bot_id = :bot GROUP BY 2
       ON CONFLICT (bot_id, hour, shard) DO UPDATE SET
         new_contacts = b.new_contacts + excluded.new_contacts,
         conversations_started = b.conversations_started + excluded.conversations_started""",
    """INSERT INTO analytics_bot_hours AS b (bot_id, hour, conversations_completed,
                                             conversations_abandoned, conversations_handed_off)
       SELECT :bot, date_trunc('hour', coalesce(closed_at, last_message_at), 'UTC'),
              count(*) FILTER (WHERE status = 'closed'),
              count(*) FILTER (WHERE status = 'abandoned'),
              count(*) FILTER (WHERE status = 'handed_off')
       FROM conversations WHERE bot_id = :bot GROUP BY 2
       ON CONFLICT (bot_id, hour, shard) DO UPDATE SET
         conversations_completed = b.conversations_completed + excluded.conversations_completed,
         conversations_abandoned = b.conversations_abandoned + excluded.conversations_abandoned,
         conversations_handed_off =
           b.conversations_handed_off + excluded.conversations_handed_off""",
    """INSERT INTO analytics_contact_hours (bot_id, hour, contact_id, contact_since)
       SELECT DISTINCT :bot, date_trunc('hour', m.created_at, 'UTC'), c.contact_id, k.created_at
       FROM messages m JOIN conversations c ON c.id = m.conversation_id
       JOIN contacts k ON k.id = c.contact_id
       WHERE c.bot_id = :bot AND m.direction = 'inbound'""",
    """INSERT INTO analytics_keyword_hours (bot_id, hour, keyword, n)
       SELECT :bot, date_trunc('hour', m.created_at, 'UTC'), m.text, count(*)
       FROM (SELECT DISTINCT ON (m.conversation_id) m.conversation_id, m.created_at, m.text
             FROM messages m JOIN numbered c ON c.id = m.conversation_id
             ORDER BY m.conversation_id, m.created_at) m GROUP BY 2, 3""",
    """INSERT INTO analytics_flow_hours (flow_id, hour, bot_id, runs_started, runs_completed,
                                         runs_abandoned, runs_failed, completed_duration_ms_sum)
       SELECT r.flow_id, date_trunc('hour', r.started_at, 'UTC'), :bot, count(*),
              count(*) FILTER (WHERE status = 'completed'),
              count(*) FILTER (WHERE status = 'abandoned'),
              count(*) FILTER (WHERE status = 'failed'),
              coalesce(sum(120000) FILTER (WHERE status = 'completed'), 0)
       FROM flow_runs r JOIN numbered c ON c.id = r.conversation_id GROUP BY 1, 2""",
    """INSERT INTO analytics_node_hours (flow_id, node_id, hour, reached, visits,
                                         ended_completed, ended_dropped)
       SELECT r.flow_id, n.node, date_trunc('hour', r.started_at, 'UTC'), count(*),
              count(*) FILTER (WHERE s.id IS NOT NULL),
              count(*) FILTER (WHERE r.current_node_id = n.node AND r.status = 'completed'),
              count(*) FILTER (WHERE r.current_node_id = n.node AND r.status <> 'completed')
       FROM flow_runs r JOIN numbered c ON c.id = r.conversation_id
       CROSS JOIN (VALUES ('intro'), ('rating'), ('bye')) n(node)
       LEFT JOIN flow_run_steps s ON s.flow_run_id = r.id AND s.node_id = n.node
       WHERE n.node <> 'bye' OR r.status = 'completed' GROUP BY 1, 2, 3""",
    """INSERT INTO analytics_edge_hours (flow_id, source, handle, target, hour, visits)
       SELECT r.flow_id, a.node_id, a.outcome, b.node_id, date_trunc('hour', b.started_at, 'UTC'),
              count(*)
       FROM flow_run_steps a JOIN flow_run_steps b
         ON b.flow_run_id = a.flow_run_id AND b.sequence = a.sequence + 1
       JOIN flow_runs r ON r.id = a.flow_run_id JOIN numbered c ON c.id = r.conversation_id
       GROUP BY 1, 2, 3, 4, 5""",
    """INSERT INTO analytics_answer_hours (flow_id, node_id, hour, answer, bot_id, n)
       SELECT r.flow_id, 'rating', date_trunc('hour', r.ended_at, 'UTC'), r.variables ->> 'rating',
              :bot, count(*)
       FROM flow_runs r JOIN numbered c ON c.id = r.conversation_id
       WHERE status = 'completed' GROUP BY 1, 3, 4""",
    "ANALYZE",
]


def survey(number: int) -> dict[str, Any]:
    """A flow of the seeds' shape: a greeting, the satisfaction rating, thanks."""
    options = [{"id": str(5 - i), "label": label} for i, label in enumerate(reversed(STARS))]
    nodes = [
        ("intro", "message", {"content": f"Hola, flujo {number}"}),
        ("rating", "button", {"content": "¿Cómo calificarías?", "options": options}),
        ("bye", "message", {"content": "Gracias"}),
    ]
    return {
        "name": f"Flow {number:02d}",
        "nodes": [
            {"id": i, "type": t, "position": {"x": 0, "y": 0}, "data": d} for i, t, d in nodes
        ],
        "edges": [
            {"id": "e1", "source": "intro", "target": "rating"},
            {"id": "e2", "source": "rating", "target": "bye"},
        ],
    }


async def seed(url: str, messages: int, contacts: int) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    started = time.perf_counter()
    async with make_session_factory(engine).begin() as session:
        organization = await create_organization(session, "Bench", f"bench-{uuid.uuid4().hex}")
        bot = await create_bot(session, organization.id, "Analytics bench bot")
        channel = await add_channel(session, bot.id, "web", "Web", None, None)
        for number in range(FLOWS):
            flow = await create_flow(session, bot.id, survey(number), name=f"Flow {number:02d}")
            await publish_flow(session, flow, "seed")
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(DAYS)
        params = {
            "bot": bot.id,
            "channel": channel.id,
            "start": start,
            "contacts": contacts,
            "messages": messages,
            "flows": FLOWS,
            "stars": STARS,
        }
        # The rollups are summed below in SQL: the raw rows write no analytics facts.
        await session.execute(text("SET LOCAL botbuilder.analytics_facts = off"))
        for statement in RAW + ROLLUPS[:-1]:
            step = time.perf_counter()
            await session.execute(text(statement), params)
            print(f"{time.perf_counter() - step:7.1f} s  {' '.join(statement.split())[:70]}")
    async with engine.begin() as connection:  # statistics of the committed rows
        await connection.execute(text(ROLLUPS[-1]))
    await engine.dispose()
    print(
        f"seeded bot {bot.id}: {messages:,} messages, {contacts:,} contacts, {FLOWS} flows "
        f"over {DAYS} days in {time.perf_counter() - started:.0f} s"
    )


async def timed(what: str, call: Callable[[], Awaitable[Any]], repeat: int = 7) -> float:
    """Run `call` `repeat` times (after one warm-up) and print the median in milliseconds."""
    await call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await call()
        times.append((time.perf_counter() - start) * 1000)
    median = statistics.median(times)
    print(f"{median:8.1f} ms  {what}")
    return median


async def run(url: str) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    async with sessions() as session:
        bot = (
            await session.execute(
                text(
                    "SELECT b.id, count(m.*) FROM bots b JOIN conversations c ON c.bot_id = b.id "
                    "JOIN messages m ON m.conversation_id = c.id "
                    "GROUP BY b.id ORDER BY 2 DESC LIMIT 1"
                )
            )
        ).first()
        assert bot is not None, "no data: run `seed` first"
        flow = await session.scalar(
            text(
                "SELECT flow_id FROM analytics_flow_hours WHERE bot_id = :b "
                "GROUP BY 1 ORDER BY sum(runs_started) DESC LIMIT 1"
            ),
            {"b": bot[0]},
        )
        definition = await session.scalar(
            text(
                "SELECT v.definition FROM flows f JOIN flow_versions v "
                "ON v.id = f.published_version_id WHERE f.id = :f"
            ),
            {"f": flow},
        )
    print(f"bot {bot[0]}: {bot[1]:,} messages")
    today = datetime.now(UTC).date()
    slowest = 0.0
    for days, zone in (
        (90, "UTC"),
        (90, "America/Mexico_City"),
        (30, "Asia/Kolkata"),
        (7, "Europe/Madrid"),
    ):
        period = queries.make_period([bot[0]], today - timedelta(days - 1), today, zone)
        print(f"-- {days} days, {zone}")
        async with sessions() as session:
            for what, call in (
                (
                    "dashboard (totals, previous period, by hour/day, top)",
                    lambda: queries.dashboard(sessions, period),  # noqa: B023
                ),
                ("totals only", lambda: queries.totals(session, period)),  # noqa: B023
                (
                    "flow funnel, edges, answers",
                    lambda: queries.flow_stats(session, period, flow, definition),  # noqa: B023
                ),
                ("satisfaction", lambda: queries.satisfaction(session, period)),  # noqa: B023
                ("real time", lambda: queries.real_time(session, period.bot_ids)),  # noqa: B023
            ):
                slowest = max(slowest, await timed(what, call))
    print(f"slowest dashboard query: {slowest:.1f} ms")
    period = queries.make_period([bot[0]], today - timedelta(DAYS + 1), today, "UTC")
    for kind in ("messages", "conversations"):
        for name, stream in (
            ("csv", analytics_exports.stream_csv),
            ("json", analytics_exports.stream_json),
        ):
            start, size, rows = time.perf_counter(), 0, 0
            async for chunk in stream(engine, kind, period):  # type: ignore[arg-type]
                size += len(chunk)
                rows += chunk.count(b"\n")
            elapsed = time.perf_counter() - start
            print(
                f"export {kind}.{name}: ~{rows:,} rows, {size / 1e6:.0f} MB in {elapsed:.1f} s "
                f"= {rows / elapsed:,.0f} rows/s"
            )
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["seed", "run"])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/bb-analytics-bench"))
    parser.add_argument("--database-url", help="a PostgreSQL URL instead of the embedded one")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=100_000)
    args = parser.parse_args()
    url = args.database_url or start_embedded_postgres(args.data_dir).url
    if args.command == "seed":
        asyncio.run(seed(url, args.messages, args.contacts))
    else:
        asyncio.run(run(url))


if __name__ == "__main__":
    sys.exit(main())
