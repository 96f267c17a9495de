"""Analytics from real conversations: exact figures for every metric, and rollups that agree
with the raw rows they summarize."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import subprocess
import uuid
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from models.db import make_session_factory
from services.analytics import queries
from services.analytics import report as analytics_report
from tests.api_fixtures import edge, message
from tests.helpers import WebChat, chain, make_web_bot, node, rollups_drained, wait_for
from tests.inbox_fixtures import conversation_of, team_with_bot

STARS = {
    "5": "⭐⭐⭐⭐⭐ Excelente",
    "4": "⭐⭐⭐⭐ Buena",
    "3": "⭐⭐⭐ Regular",
    "2": "⭐⭐ Mala",
    "1": "⭐ Muy mala",
}
TAKE_OVER = "mutation($id: ID!) { takeOverConversation(id: $id) { status } }"
CLOSE = "mutation($id: ID!) { closeConversation(id: $id) { status } }"
SHORT_INACTIVITY = """mutation($id: ID!) {
  updateBot(id: $id, input: {settings: {inactivity_timeout_seconds: 2}}) { id } }"""
TOTALS = """messagesIn messagesOut uniqueContacts newContacts returningContacts
  conversationsStarted conversationsCompleted conversationsAbandoned conversationsHandedOff
  flowsStarted flowsCompleted errors responses avgResponseMs p90ResponseMs"""
DASHBOARD = f"""query($bot: ID, $from: Date!, $to: Date!, $tz: String!) {{
  analyticsDashboard(botId: $bot, from: $from, to: $to, timeZone: $tz) {{
    totals {{ {TOTALS} }} previousTotals {{ messagesIn flowsStarted }}
    changes {{ metric current previous changePercent }} activeConversationsNow
    messagesByHourOfDay {{ key inbound outbound }} messagesByDay {{ key inbound outbound }}
    topKeywords {{ label count }} topTriggers {{ label count flowId }} }} }}"""
FLOW = """query($flow: ID!, $from: Date!, $to: Date!) {
  flowAnalytics(flowId: $flow, from: $from, to: $to) {
    runs completions abandoned failed completionRate avgDurationMs
    nodes { nodeId nodeType reached visits dropped completedHere invalid timeouts errors }
    edges { edgeId source target visits }
    questions { nodeId answered invalid invalidRate answers { answer count } } } }"""
SATISFACTION = """query($bot: ID, $from: Date!, $to: Date!) {
  analyticsSatisfaction(botId: $bot, from: $from, to: $to) {
    responses positive neutral negative score positivePercent } }"""
REAL_TIME = """query($bot: ID) { analyticsRealTime(botId: $bot) {
  activeContactsLast5Minutes messagesLastHour waitingForAgent } }"""


def survey_flow() -> dict[str, Any]:
    """Hi, a 1–5 star rating (the seeds' satisfaction template), an age, thanks."""
    options = [{"id": rating, "label": label} for rating, label in STARS.items()]
    rating = node("rating", "button", content="How was it?", options=options)
    age = node("age", "question", content="Your age?", validation="number", maxAttempts=2)
    return {
        "nodes": [message("intro", "Hi"), rating, age, message("bye", "Thanks")],
        "edges": [
            edge("e1", "intro", "rating"),
            edge("e2", "rating", "age"),
            edge("e3", "age", "bye"),
        ],
        "variables": {},
    }


async def statuses(engine: AsyncEngine, bot: str) -> dict[str, str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("""SELECT k.external_id, c.status FROM conversations c
                    JOIN contacts k ON k.id = c.contact_id WHERE c.bot_id = :bot"""),
            {"bot": bot},
        )
        return dict(rows.all())


async def test_known_conversations_give_exact_figures(
    api: httpx.AsyncClient, engine_worker: Any, db_engine: AsyncEngine
) -> None:
    team = await team_with_bot(api, survey_flow())
    owner = team.owner
    await owner(SHORT_INACTIVITY, id=team.bot)
    alice, bob, carol, dave = (WebChat(api, team.web, name) for name in ("a", "b", "c", "d"))
    for contact in (alice, bob, carol, dave):
        await contact.say("Hello")
        await contact.wait_replies(2)
    await alice.say(payload="5")
    await alice.wait_replies(3)
    await alice.say("abc")  # not a number: asked again
    await alice.wait_replies(4)
    await alice.say("30")
    await alice.wait_replies(5)
    await bob.say(payload="2")
    await bob.wait_replies(3)
    await bob.say("x")
    await bob.wait_replies(4)
    await bob.say("y")  # the second bad answer: the node leaves by `invalid`, on to thanks
    await bob.wait_replies(5)
    dave_conversation = await conversation_of(owner, "d")
    await owner(TAKE_OVER, id=dave_conversation)
    await owner(CLOSE, id=dave_conversation)

    async def settled() -> bool:
        return await statuses(db_engine, team.bot) == {
            "a": "abandoned",
            "b": "abandoned",
            "c": "abandoned",
            "d": "closed",
        }

    await wait_for(settled, timeout=30, what="conversations to go idle and close")

    async def runs_ended() -> bool:
        async with db_engine.connect() as connection:
            return not await connection.scalar(
                text("SELECT count(*) FROM flow_runs WHERE ended_at IS NULL")
            )

    await wait_for(runs_ended, what="every run to end")
    await rollups_drained(db_engine)
    today = datetime.now(UTC).date().isoformat()
    span = {"from": today, "to": today}
    board = (await owner(DASHBOARD, bot=team.bot, tz="UTC", **span))["analyticsDashboard"]
    totals = board["totals"]
    assert {key: value for key, value in totals.items() if "Response" not in key} == {
        "messagesIn": 10,
        "messagesOut": 14,
        "uniqueContacts": 4,
        "newContacts": 4,
        "returningContacts": 0,
        "conversationsStarted": 4,
        "conversationsCompleted": 1,
        "conversationsAbandoned": 3,
        "conversationsHandedOff": 1,
        "flowsStarted": 4,
        "flowsCompleted": 2,
        "errors": 0,
        "responses": 10,
    }
    assert totals["avgResponseMs"] > 0 and totals["p90ResponseMs"] >= 500
    assert board["previousTotals"] == {"messagesIn": 0, "flowsStarted": 0}
    change = next(c for c in board["changes"] if c["metric"] == "messages_in")
    assert change == {"metric": "messages_in", "current": 10, "previous": 0, "changePercent": None}
    assert board["activeConversationsNow"] == 0
    assert board["messagesByDay"] == [{"key": today, "inbound": 10, "outbound": 14}]
    by_hour = board["messagesByHourOfDay"]
    assert sum(h["inbound"] for h in by_hour) == 10 and sum(h["outbound"] for h in by_hour) == 14
    assert board["topKeywords"] == [{"label": "hello", "count": 4}]
    assert board["topTriggers"] == [{"label": "Ask", "count": 4, "flowId": team.flow}]

    flow = (await owner(FLOW, flow=team.flow, **span))["flowAnalytics"]
    assert (flow["runs"], flow["completions"], flow["abandoned"], flow["failed"]) == (4, 2, 1, 0)
    assert flow["completionRate"] == 0.5 and flow["avgDurationMs"] > 0
    funnel = {n["nodeId"]: n for n in flow["nodes"]}
    zero = {"timeouts": 0, "errors": 0}
    assert funnel == {
        "intro": {
            "nodeId": "intro",
            "nodeType": "message",
            "reached": 4,
            "visits": 4,
            "dropped": 0,
            "completedHere": 0,
            "invalid": 0,
            **zero,
        },
        "rating": {
            "nodeId": "rating",
            "nodeType": "button",
            "reached": 4,
            "visits": 2,
            "dropped": 2,
            "completedHere": 0,
            "invalid": 0,
            **zero,
        },
        "age": {
            "nodeId": "age",
            "nodeType": "question",
            "reached": 2,
            "visits": 2,
            "dropped": 0,
            "completedHere": 0,
            "invalid": 1,
            **zero,
        },
        "bye": {
            "nodeId": "bye",
            "nodeType": "message",
            "reached": 2,
            "visits": 2,
            "dropped": 0,
            "completedHere": 2,
            "invalid": 0,
            **zero,
        },
    }
    assert sorted(flow["edges"], key=lambda e: e["edgeId"]) == [
        {"edgeId": "e1", "source": "intro", "target": "rating", "visits": 4},
        {"edgeId": "e2", "source": "rating", "target": "age", "visits": 2},
        {"edgeId": "e3", "source": "age", "target": "bye", "visits": 2},
    ]
    questions = {q["nodeId"]: q for q in flow["questions"]}
    assert questions["age"] == {
        "nodeId": "age",
        "answered": 1,
        "invalid": 1,
        "invalidRate": 0.5,
        "answers": [{"answer": "30", "count": 1}],
    }
    assert sorted(a["answer"] for a in questions["rating"]["answers"]) == [STARS["2"], STARS["5"]]

    mood = (await owner(SATISFACTION, bot=team.bot, **span))["analyticsSatisfaction"]
    assert mood == {
        "responses": 2,
        "positive": 1,
        "neutral": 0,
        "negative": 1,
        "score": 3.5,
        "positivePercent": 50.0,
    }
    now = (await owner(REAL_TIME, bot=team.bot))["analyticsRealTime"]
    assert now == {"activeContactsLast5Minutes": 4, "messagesLastHour": 24, "waitingForAgent": 0}
    await rollups_agree_with_raw_rows(db_engine)
    await exports_match(api, owner, team.bot, today)


RECOUNTS = {
    "messages per bot and hour": (
        """SELECT c.bot_id, date_trunc('hour', m.created_at, 'UTC'),
                  count(*) FILTER (WHERE direction = 'inbound'),
                  count(*) FILTER (WHERE direction = 'outbound')
           FROM messages m JOIN conversations c ON c.id = m.conversation_id GROUP BY 1, 2""",
        """SELECT bot_id, hour, sum(messages_in), sum(messages_out) FROM analytics_bot_hours
           GROUP BY 1, 2 HAVING sum(messages_in + messages_out) > 0""",
    ),
    "active contacts per hour": (
        """SELECT DISTINCT c.bot_id, date_trunc('hour', m.created_at, 'UTC'), c.contact_id
           FROM messages m JOIN conversations c ON c.id = m.conversation_id
           WHERE m.direction = 'inbound'""",
        "SELECT bot_id, hour, contact_id FROM analytics_contact_hours",
    ),
    "new contacts": (
        "SELECT bot_id, count(*) FROM contacts GROUP BY 1",
        "SELECT bot_id, sum(new_contacts) FROM analytics_bot_hours GROUP BY 1",
    ),
    "runs per flow": (
        """SELECT flow_id, count(*), count(*) FILTER (WHERE status = 'completed'),
                  count(*) FILTER (WHERE status = 'abandoned') FROM flow_runs GROUP BY 1""",
        """SELECT flow_id, sum(runs_started), sum(runs_completed), sum(runs_abandoned)
           FROM analytics_flow_hours GROUP BY 1""",
    ),
    "node visits and errors": (
        """SELECT r.flow_id, s.node_id, count(*), count(*) FILTER (WHERE outcome = 'invalid'),
                  count(*) FILTER (WHERE outcome = 'error')
           FROM flow_run_steps s JOIN flow_runs r ON r.id = s.flow_run_id GROUP BY 1, 2""",
        """SELECT flow_id, node_id, sum(visits), sum(invalid), sum(errors)
           FROM analytics_node_hours GROUP BY 1, 2 HAVING sum(visits) > 0""",
    ),
    "runs ended at some node": (
        """SELECT flow_id, count(*) FROM flow_runs WHERE ended_at IS NOT NULL GROUP BY 1""",
        """SELECT flow_id, sum(ended_completed + ended_dropped) FROM analytics_node_hours
           GROUP BY 1""",
    ),
}


async def rollups_agree_with_raw_rows(engine: AsyncEngine) -> None:
    """Recount every rollup from the raw rows it summarizes; both must agree exactly."""
    async with engine.connect() as connection:
        for what, (raw, rolled) in RECOUNTS.items():
            recounted = sorted(map(tuple, (await connection.execute(text(raw))).all()))
            stored = sorted(map(tuple, (await connection.execute(text(rolled))).all()))
            assert recounted == stored, what
            assert recounted, f"no data for {what}"


HOURS_IN = {  # UTC bucket start -> messages in
    "2026-03-01T23:00": 1,
    "2026-03-02T00:00": 2,
    "2026-03-02T04:00": 4,
    "2026-03-02T05:00": 8,
    "2026-03-02T18:00": 16,
    "2026-03-02T19:00": 32,
}


async def test_days_and_hours_regroup_in_the_asked_time_zone(db_engine: AsyncEngine) -> None:
    bot, _ = await make_web_bot(db_engine, chain(node("hi", "message", content="Hi")))
    async with db_engine.begin() as connection:
        for hour, count in HOURS_IN.items():
            await connection.execute(
                text(
                    "INSERT INTO analytics_bot_hours (bot_id, hour, messages_in) "
                    "VALUES (:bot, :hour, :n)"
                ),
                {"bot": bot, "hour": datetime.fromisoformat(hour).replace(tzinfo=UTC), "n": count},
            )
    day = date(2026, 3, 2)

    async def board(zone: str, first: date = day, last: date = day) -> queries.Dashboard:
        period = queries.make_period([uuid.UUID(bot)], first, last, zone)
        return await queries.dashboard(make_session_factory(db_engine), period)

    def hours(result: queries.Dashboard) -> dict[str, int]:
        return {at.key: at.inbound for at in result.messages_by_hour_of_day}

    utc = await board("UTC")
    assert (utc.totals.messages_in, utc.previous_totals.messages_in) == (62, 1)
    assert hours(utc) == {"0": 2, "4": 4, "5": 8, "18": 16, "19": 32}
    assert [(d.key, d.inbound) for d in utc.messages_by_day] == [("2026-03-02", 62)]
    new_york = await board("America/New_York")  # UTC-5: the local day starts at 05:00 UTC
    assert (new_york.totals.messages_in, new_york.previous_totals.messages_in) == (56, 7)
    assert hours(new_york) == {"0": 8, "13": 16, "14": 32}
    two_days = await board("America/New_York", day - timedelta(days=1))
    assert [(d.key, d.inbound) for d in two_days.messages_by_day] == [
        ("2026-03-01", 7),
        ("2026-03-02", 56),
    ]
    # UTC+5:30: a UTC hour counts in the local hour and day in which it starts.
    kolkata = await board("Asia/Kolkata")
    assert kolkata.totals.messages_in == 31
    assert hours(kolkata) == {"4": 1, "5": 2, "9": 4, "10": 8, "23": 16}
    change = next(c for c in utc.changes if c.metric == "messages_in")
    assert (change.current, change.previous, change.change_percent) == (62, 1, 6100.0)


async def test_a_bad_range_or_zone_is_refused(api: httpx.AsyncClient) -> None:
    team = await team_with_bot(api)
    for zone, first, last, problem in (
        ("Mars/Olympus", "2026-01-01", "2026-01-02", "unknown time zone 'Mars/Olympus'"),
        ("UTC", "2026-01-03", "2026-01-02", "`from` must not be after `to`"),
        ("UTC", "2020-01-01", "2026-01-02", "a report covers at most 400 days"),
    ):
        error = await team.owner.error(
            DASHBOARD, bot=team.bot, tz=zone, **{"from": first, "to": last}
        )
        assert error["code"] == "BAD_USER_INPUT" and problem in error["message"], error


async def exported(api: httpx.AsyncClient, owner: Any, path: str, day: str) -> httpx.Response:
    response = await api.get(
        f"{path}?from={day}&to={day}&tz=UTC", headers={"Authorization": f"Bearer {owner.token}"}
    )
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    return response


async def exports_match(api: httpx.AsyncClient, owner: Any, bot: str, day: str) -> None:
    """Raw rows and the report, in every format, agree with the figures above."""
    base = f"/api/bots/{bot}/analytics"
    messages = list(
        csv.DictReader(io.StringIO((await exported(api, owner, f"{base}/messages.csv", day)).text))
    )
    assert len(messages) == 24
    assert sum(row["direction"] == "inbound" for row in messages) == 10
    assert [row["text"] for row in messages if row["contact"] == "a"][:2] == ["Hello", "Hi"]
    as_json = (await exported(api, owner, f"{base}/messages.json", day)).json()
    assert [row["id"] for row in as_json] == [row["id"] for row in messages]
    conversations = (await exported(api, owner, f"{base}/conversations.json", day)).json()
    assert sorted((c["contact"], c["status"]) for c in conversations) == [
        ("a", "abandoned"),
        ("b", "abandoned"),
        ("c", "abandoned"),
        ("d", "closed"),
    ]
    report = (await exported(api, owner, f"{base}/report.json", day)).json()
    assert report["dashboard"]["totals"]["messages_in"] == 10
    assert report["flows"][0]["nodes"][1]["reached"] == 4
    rows = (await exported(api, owner, f"{base}/report.csv", day)).text.splitlines()
    assert "totals,,messages_out,14" in rows and "satisfaction,,score,3.5" in rows
    page = (await exported(api, owner, f"{base}/report.html", day)).text
    assert all(f'data-chart="{name}"' in page for name in ("messages", "funnel", "satisfaction"))


CHROMIUM = Path("/usr/bin/chromium")


def sample_report() -> dict[str, Any]:
    """A report for three days: a flow of three nodes and ten ratings."""
    days = [queries.MessagesAt(f"2026-03-0{n}", 10 * n, 12 * n) for n in (1, 2, 3)]
    board = queries.Dashboard(
        queries.Totals(messages_in=60), queries.Totals(messages_in=30), [], 2, [], days, [], []
    )
    nodes = [
        queries.NodeFunnel(node_id, "message", "", reached, reached, dropped, 0, 0, 0, 0)
        for node_id, reached, dropped in (("hi", 10, 2), ("ask", 8, 3), ("bye", 5, 0))
    ]
    flow = queries.FlowStats("f", 10, 5, 5, 0, 0.5, 1000.0, nodes, [], [])
    mood = queries.Satisfaction(10, 6, 3, 1, 4.1, 60.0)
    return {
        "bot": {"id": "b", "name": "Shop <bot>"},
        "from": "2026-03-01",
        "to": "2026-03-03",
        "time_zone": "UTC",
        "dashboard": asdict(board),
        "satisfaction": asdict(mood),
        "flows": [{"name": "Sales", **asdict(flow)}],
    }


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)",
)
def test_the_html_report_draws_its_charts_in_a_browser_offline(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(analytics_report.report_html(sample_report()), encoding="utf-8")
    dom = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--proxy-server=127.0.0.1:9",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    rendered = re.search(r'data-rendered="([^"]*)"', dom)
    assert rendered, "the page's charts were not laid out"
    charts = json.loads(html.unescape(rendered.group(1)))
    assert {name: chart["marks"] for name, chart in charts.items()} == {
        "messages": 2 + 2 * 3,
        "funnel": 3,
        "satisfaction": 3,
    }
    assert all(chart["width"] == 720 and chart["height"] > 0 for chart in charts.values())
    assert "Shop &lt;bot&gt;" in dom and "score 4.1 / 5" in dom
    assert not re.search(r'(src|href)="https?:', dom)
