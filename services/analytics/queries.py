"""Analytics reports read from the hourly rollups (and, for "now" figures, from live rows).

A `Period` is a range of whole local days in a time zone; its UTC bounds select hour buckets
whose start lies inside it. Days and hours of the day are the buckets' local dates and hours.
"""

from __future__ import annotations

import asyncio
import math
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.analytics_tables import RESPONSE_BUCKET_COLUMNS, RESPONSE_BUCKETS_MS
from models.errors import InvalidInput

MAX_DAYS = 400
TOP = 10
SATISFACTION_NODE = re.compile(r"rating|satisf|csat|calific|nps", re.IGNORECASE)
STAR = "⭐"
T = TypeVar("T")


@dataclass(frozen=True)
class Period:
    """Whole local days `first`..`last` (inclusive) in `zone`, for some bots."""

    bot_ids: list[uuid.UUID]
    first: date
    last: date
    zone: str

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), ZoneInfo(self.zone))

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), ZoneInfo(self.zone))

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        length = self.last - self.first + timedelta(days=1)
        return Period(self.bot_ids, self.first - length, self.last - length, self.zone)

    def params(self) -> dict[str, Any]:
        return {"bots": self.bot_ids, "start": self.start, "end": self.end, "tz": self.zone}


def make_period(bot_ids: list[uuid.UUID], first: date, last: date, zone: str) -> Period:
    """A checked period: a known IANA zone, `first` not after `last`, at most MAX_DAYS days."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown time zone {zone!r}; use an IANA name such as Europe/Madrid"
        ) from None
    if first > last:
        raise InvalidInput("`from` must not be after `to`")
    if (last - first).days >= MAX_DAYS:
        raise InvalidInput(f"a report covers at most {MAX_DAYS} days")
    return Period(bot_ids, first, last, zone)


@dataclass
class Totals:
    """Counts over a period."""

    messages_in: int = 0
    messages_out: int = 0
    unique_contacts: int = 0
    new_contacts: int = 0
    returning_contacts: int = 0
    conversations_started: int = 0
    conversations_completed: int = 0
    conversations_abandoned: int = 0
    conversations_handed_off: int = 0
    flows_started: int = 0
    flows_completed: int = 0
    errors: int = 0
    responses: int = 0
    avg_response_ms: float | None = None
    p90_response_ms: int | None = None


@dataclass
class MessagesAt:
    """Messages in and out at one hour of the day (0–23) or on one day."""

    key: str
    inbound: int
    outbound: int


@dataclass
class Ranked:
    """A keyword or a flow, with how many flow starts it caused."""

    label: str
    count: int
    flow_id: str | None = None


@dataclass
class Change:
    """A metric now and in the previous period; `change_percent` is None when it was 0."""

    metric: str
    current: float
    previous: float
    change_percent: float | None


@dataclass
class Dashboard:
    totals: Totals
    previous_totals: Totals
    changes: list[Change]
    active_conversations_now: int
    messages_by_hour_of_day: list[MessagesAt]
    messages_by_day: list[MessagesAt]
    top_keywords: list[Ranked]
    top_triggers: list[Ranked]


@dataclass
class NodeFunnel:
    node_id: str
    node_type: str
    label: str
    reached: int
    visits: int
    dropped: int
    completed_here: int
    invalid: int
    timeouts: int
    errors: int


@dataclass
class EdgeVisits:
    edge_id: str | None
    source: str
    target: str
    visits: int


@dataclass
class AnswerCount:
    answer: str
    count: int


@dataclass
class QuestionStats:
    node_id: str
    answered: int
    invalid: int
    invalid_rate: float | None
    answers: list[AnswerCount]


@dataclass
class FlowStats:
    flow_id: str
    runs: int
    completions: int
    abandoned: int
    failed: int
    completion_rate: float | None
    avg_duration_ms: float | None
    nodes: list[NodeFunnel]
    edges: list[EdgeVisits]
    questions: list[QuestionStats]


@dataclass
class Satisfaction:
    """Ratings 1–5: 4–5 positive, 3 neutral, 1–2 negative; `score` is their average."""

    responses: int = 0
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    score: float | None = None
    positive_percent: float | None = None
    distribution: list[AnswerCount] = field(default_factory=list)


@dataclass
class RealTime:
    active_contacts_last_5_minutes: int
    messages_last_hour: int
    waiting_for_agent: int


RANGE = "bot_id = ANY(:bots) AND hour >= :start AND hour < :end"
COUNTERS = (
    "messages_in",
    "messages_out",
    "new_contacts",
    "conversations_started",
    "conversations_completed",
    "conversations_abandoned",
    "conversations_handed_off",
    "errors",
    "response_ms_sum",
    "responses",
    *RESPONSE_BUCKET_COLUMNS,
)


def p90(buckets: list[int]) -> int | None:
    """The upper bound of the histogram bucket holding the 90th percentile (None: no data)."""
    total = sum(buckets)
    if not total:
        return None
    rank, seen = math.ceil(0.9 * total), 0
    for bound, count in zip((*RESPONSE_BUCKETS_MS, RESPONSE_BUCKETS_MS[-1]), buckets, strict=True):
        seen += count
        if seen >= rank:
            return bound
    return RESPONSE_BUCKETS_MS[-1]


async def totals(session: AsyncSession, period: Period) -> Totals:
    params = period.params()
    sums = ", ".join(f"coalesce(sum({name}), 0)" for name in COUNTERS)
    row = (
        await session.execute(text(f"SELECT {sums} FROM analytics_bot_hours WHERE {RANGE}"), params)
    ).one()
    counts = dict(zip(COUNTERS, (int(value) for value in row), strict=True))
    contacts = (
        await session.execute(
            text(f"""
        SELECT count(*), count(*) FILTER (WHERE since < :start) FROM (
            SELECT contact_id, min(contact_since) AS since FROM analytics_contact_hours
            WHERE {RANGE} GROUP BY contact_id) active"""),
            params,
        )
    ).one()
    flows = (
        await session.execute(
            text(f"""
        SELECT coalesce(sum(runs_started), 0), coalesce(sum(runs_completed), 0)
        FROM analytics_flow_hours WHERE {RANGE}"""),
            params,
        )
    ).one()
    responses = counts["responses"]
    return Totals(
        messages_in=counts["messages_in"],
        messages_out=counts["messages_out"],
        unique_contacts=contacts[0],
        new_contacts=counts["new_contacts"],
        returning_contacts=contacts[1],
        conversations_started=counts["conversations_started"],
        conversations_completed=counts["conversations_completed"],
        conversations_abandoned=counts["conversations_abandoned"],
        conversations_handed_off=counts["conversations_handed_off"],
        flows_started=int(flows[0]),
        flows_completed=int(flows[1]),
        errors=counts["errors"],
        responses=responses,
        avg_response_ms=round(counts["response_ms_sum"] / responses, 1) if responses else None,
        p90_response_ms=p90([counts[name] for name in RESPONSE_BUCKET_COLUMNS]),
    )


def changes(current: Totals, previous: Totals) -> list[Change]:
    """Every numeric total now against the previous period."""
    result = []
    for item in fields(Totals):
        now, before = getattr(current, item.name), getattr(previous, item.name)
        if now is None and before is None:
            continue
        now, before = now or 0, before or 0
        percent = round((now - before) * 100 / before, 1) if before else None
        result.append(Change(item.name, now, before, percent))
    return result


async def messages_by(session: AsyncSession, period: Period, key: str) -> list[MessagesAt]:
    rows = await session.execute(
        text(f"""
        SELECT {key} AS k, sum(messages_in), sum(messages_out) FROM analytics_bot_hours
        WHERE {RANGE} GROUP BY 1 ORDER BY 1"""),
        period.params(),
    )
    return [MessagesAt(str(k), int(i), int(o)) for k, i, o in rows]


async def active_now(session: AsyncSession, period: Period) -> int:
    """Conversations open right now (active or with an agent)."""
    active = await session.scalar(
        text("""
        SELECT count(*) FROM conversations
        WHERE bot_id = ANY(:bots) AND status IN ('active', 'handed_off')"""),
        {"bots": period.bot_ids},
    )
    return active or 0


async def top_keywords(session: AsyncSession, period: Period) -> list[Ranked]:
    rows = await session.execute(
        text(f"""
        SELECT keyword, sum(n) FROM analytics_keyword_hours WHERE {RANGE}
        GROUP BY keyword ORDER BY 2 DESC, 1 LIMIT {TOP}"""),
        period.params(),
    )
    return [Ranked(keyword, int(n)) for keyword, n in rows]


async def top_triggers(session: AsyncSession, period: Period) -> list[Ranked]:
    rows = await session.execute(
        text(f"""
        SELECT f.name, sum(h.runs_started), h.flow_id FROM analytics_flow_hours h
        JOIN flows f ON f.id = h.flow_id WHERE h.{RANGE.replace(" AND ", " AND h.")}
        GROUP BY f.name, h.flow_id ORDER BY 2 DESC, 1 LIMIT {TOP}"""),
        period.params(),
    )
    return [Ranked(name, int(n), str(flow)) for name, n, flow in rows]


async def by_hour_of_day(session: AsyncSession, period: Period) -> list[MessagesAt]:
    return await messages_by(session, period, "extract(hour FROM hour AT TIME ZONE :tz)::int")


async def by_day(session: AsyncSession, period: Period) -> list[MessagesAt]:
    return await messages_by(session, period, "(hour AT TIME ZONE :tz)::date")


async def dashboard(sessions: async_sessionmaker[AsyncSession], period: Period) -> Dashboard:
    """Every part at once, each on its own connection (the two periods' contact counts are
    the heavy part: they run side by side)."""

    async def part(query: Callable[[AsyncSession, Period], Awaitable[T]], of: Period) -> T:
        async with sessions() as session:
            return await query(session, of)

    current, previous, active, keywords, triggers, hours, days = await asyncio.gather(
        part(totals, period),
        part(totals, period.previous()),
        part(active_now, period),
        part(top_keywords, period),
        part(top_triggers, period),
        part(by_hour_of_day, period),
        part(by_day, period),
    )
    return Dashboard(
        totals=current,
        previous_totals=previous,
        changes=changes(current, previous),
        active_conversations_now=active,
        messages_by_hour_of_day=hours,
        messages_by_day=days,
        top_keywords=keywords,
        top_triggers=triggers,
    )


def node_labels(definition: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Node id → (type, a short label) from a flow definition."""
    labels = {}
    for node in definition.get("nodes", []):
        data = node.get("data") or {}
        label = data.get("label") or data.get("content") or data.get("text") or ""
        labels[str(node.get("id"))] = (str(node.get("type", "")), str(label)[:80])
    return labels


def edge_ids(definition: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(source, target) → edge id from a flow definition."""
    return {
        (str(edge.get("source")), str(edge.get("target"))): str(edge.get("id"))
        for edge in definition.get("edges", [])
    }


async def flow_stats(
    session: AsyncSession, period: Period, flow_id: uuid.UUID, definition: dict[str, Any]
) -> FlowStats:
    """Runs, completion and duration, the funnel per node, edge visits and answers."""
    params = {**period.params(), "flow": flow_id}
    in_range = "flow_id = :flow AND hour >= :start AND hour < :end"
    runs = (
        await session.execute(
            text(f"""
        SELECT coalesce(sum(runs_started), 0), coalesce(sum(runs_completed), 0),
               coalesce(sum(runs_abandoned), 0), coalesce(sum(runs_failed), 0),
               coalesce(sum(completed_duration_ms_sum), 0)
        FROM analytics_flow_hours WHERE {in_range}"""),
            params,
        )
    ).one()
    started, completed, abandoned, failed, duration = (int(value) for value in runs)
    labels = node_labels(definition)
    node_rows = await session.execute(
        text(f"""
        SELECT node_id, sum(reached), sum(visits), sum(ended_dropped), sum(ended_completed),
               sum(invalid), sum(timeouts), sum(errors)
        FROM analytics_node_hours WHERE {in_range} GROUP BY node_id"""),
        params,
    )
    counted = {row[0]: [int(value) for value in row[1:]] for row in node_rows}
    order = list(labels) + sorted(set(counted) - set(labels))
    nodes = [
        NodeFunnel(node_id, *labels.get(node_id, ("", "")), *counted.get(node_id, [0] * 7))  # type: ignore[arg-type]
        for node_id in order
    ]
    ids = edge_ids(definition)
    edge_rows = await session.execute(
        text(f"""
        SELECT source, target, sum(visits) FROM analytics_edge_hours WHERE {in_range}
        GROUP BY source, target ORDER BY 3 DESC, 1, 2"""),
        params,
    )
    edges = [EdgeVisits(ids.get((s, t)), s, t, int(n)) for s, t, n in edge_rows]
    answer_rows = await session.execute(
        text(f"""
        SELECT node_id, answer, sum(n) FROM analytics_answer_hours WHERE {in_range}
        GROUP BY node_id, answer ORDER BY node_id, 3 DESC, 2"""),
        params,
    )
    answers: dict[str, list[AnswerCount]] = {}
    for node_id, answer, count in answer_rows:
        answers.setdefault(node_id, []).append(AnswerCount(answer, int(count)))
    questions = []
    for node in nodes:
        given = answers.get(node.node_id, [])
        if not given and not node.invalid:
            continue
        answered = sum(item.count for item in given)
        attempts = answered + node.invalid
        questions.append(
            QuestionStats(
                node.node_id,
                answered,
                node.invalid,
                node.invalid / attempts if attempts else None,
                given,
            )
        )
    return FlowStats(
        flow_id=str(flow_id),
        runs=started,
        completions=completed,
        abandoned=abandoned,
        failed=failed,
        completion_rate=completed / started if started else None,
        avg_duration_ms=round(duration / completed, 1) if completed else None,
        nodes=nodes,
        edges=edges,
        questions=questions,
    )


def rating_of(node_id: str, answer: str) -> int | None:
    """A 1–5 rating from an answer: stars anywhere, or a number at a rating-like node."""
    stars = answer.count(STAR)
    if 1 <= stars <= 5:
        return stars
    stripped = answer.strip()
    if SATISFACTION_NODE.search(node_id) and stripped.isdigit() and 1 <= int(stripped) <= 5:
        return int(stripped)
    return None


async def satisfaction(session: AsyncSession, period: Period) -> Satisfaction:
    rows = await session.execute(
        text(f"""
        SELECT node_id, answer, sum(n) FROM analytics_answer_hours WHERE {RANGE}
        GROUP BY node_id, answer"""),
        period.params(),
    )
    by_rating = dict.fromkeys(range(1, 6), 0)
    for node_id, answer, count in rows:
        rating = rating_of(node_id, answer)
        if rating is not None:
            by_rating[rating] += int(count)
    total = sum(by_rating.values())
    result = Satisfaction(
        responses=total,
        positive=by_rating[4] + by_rating[5],
        neutral=by_rating[3],
        negative=by_rating[1] + by_rating[2],
        distribution=[AnswerCount(str(rating), count) for rating, count in by_rating.items()],
    )
    if total:
        result.score = round(sum(r * n for r, n in by_rating.items()) / total, 2)
        result.positive_percent = round(result.positive * 100 / total, 1)
    return result


async def real_time(session: AsyncSession, bot_ids: list[uuid.UUID]) -> RealTime:
    """Contacts who wrote in the last 5 minutes, messages in the last hour, and conversations
    handed off that no agent has taken yet."""
    row = (
        await session.execute(
            text("""
        SELECT
          (SELECT count(DISTINCT contact_id) FROM conversations WHERE bot_id = ANY(:bots)
             AND status = ANY(ARRAY['active', 'handed_off', 'abandoned', 'closed'])
             AND last_message_at > now() - interval '5 minutes'),
          (SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id
             WHERE c.bot_id = ANY(:bots) AND m.created_at > now() - interval '1 hour'),
          (SELECT count(*) FROM conversations WHERE bot_id = ANY(:bots)
             AND status = 'handed_off' AND assigned_user_id IS NULL)"""),
            {"bots": bot_ids},
        )
    ).one()
    return RealTime(*(int(value) for value in row))
