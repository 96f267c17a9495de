"""A bot's analytics report for a period: as a dict (JSON), as CSV rows, and as a
self-contained HTML page whose charts are inline SVG (no script or file from any server)."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from html import escape
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.bot_tables import Bot
from models.flow_tables import Flow, FlowVersion
from services.analytics import queries

FUNNELS_SHOWN = 5
WIDTH, HEIGHT, PAD = 720, 240, 40
COLOURS = {
    "inbound": "#2563eb",
    "outbound": "#16a34a",
    "positive": "#16a34a",
    "neutral": "#eab308",
    "negative": "#dc2626",
    "reached": "#2563eb",
    "dropped": "#dc2626",
}


async def build_report(
    sessions: async_sessionmaker[AsyncSession], period: queries.Period, bot: Bot
) -> dict[str, Any]:
    """Dashboard, satisfaction and every flow's funnel, as plain data."""
    dashboard = await queries.dashboard(sessions, period)
    flows = []
    async with sessions() as session:
        rows = await session.execute(
            select(Flow, FlowVersion.definition)
            .outerjoin(FlowVersion, FlowVersion.id == Flow.published_version_id)
            .where(Flow.bot_id == bot.id)
            .order_by(Flow.name)
        )
        for flow, published in rows:
            definition = published or flow.definition
            stats = await queries.flow_stats(session, period, flow.id, definition)
            flows.append({"name": flow.name, **asdict(stats)})
        satisfaction = await queries.satisfaction(session, period)
    flows.sort(key=lambda flow: -flow["runs"])
    return {
        "bot": {"id": str(bot.id), "name": bot.name},
        "from": period.first.isoformat(),
        "to": period.last.isoformat(),
        "time_zone": period.zone,
        "dashboard": asdict(dashboard),
        "satisfaction": asdict(satisfaction),
        "flows": flows,
    }


def report_csv(report: dict[str, Any]) -> str:
    """The report as `section,key,metric,value` rows."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "key", "metric", "value"])
    board = report["dashboard"]
    for metric, value in board["totals"].items():
        writer.writerow(["totals", "", metric, value])
    for metric, value in board["previous_totals"].items():
        writer.writerow(["previous_totals", "", metric, value])
    writer.writerow(["now", "", "active_conversations", board["active_conversations_now"]])
    for section in ("messages_by_day", "messages_by_hour_of_day"):
        for at in board[section]:
            writer.writerow([section, at["key"], "inbound", at["inbound"]])
            writer.writerow([section, at["key"], "outbound", at["outbound"]])
    for section in ("top_keywords", "top_triggers"):
        for ranked in board[section]:
            writer.writerow([section, ranked["label"], "count", ranked["count"]])
    for metric, value in report["satisfaction"].items():
        if metric != "distribution":
            writer.writerow(["satisfaction", "", metric, value])
    for flow in report["flows"]:
        for metric in (
            "runs",
            "completions",
            "abandoned",
            "failed",
            "completion_rate",
            "avg_duration_ms",
        ):
            writer.writerow(["flow", flow["name"], metric, flow[metric]])
        for node in flow["nodes"]:
            for metric in ("reached", "visits", "dropped", "completed_here", "invalid"):
                writer.writerow([f"funnel:{flow['name']}", node["node_id"], metric, node[metric]])
    return out.getvalue()


def _line_chart(days: list[dict[str, Any]]) -> str:
    """Messages in and out per day: two polylines with a dot per day."""
    top = max([1, *(max(d["inbound"], d["outbound"]) for d in days)])
    step = (WIDTH - 2 * PAD) / max(1, len(days) - 1)

    def point(index: int, value: int) -> tuple[float, float]:
        return PAD + index * step, HEIGHT - PAD - value * (HEIGHT - 2 * PAD) / top

    parts = [
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'stroke="#999"/>',
        f'<text x="4" y="{PAD}" font-size="11">{top}</text>',
    ]
    for direction in ("inbound", "outbound"):
        points = [point(i, day[direction]) for i, day in enumerate(days)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(
            f'<polyline class="mark" fill="none" stroke="{COLOURS[direction]}" '
            f'stroke-width="2" points="{path}"/>'
        )
        parts += [
            f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLOURS[direction]}"/>'
            for x, y in points
        ]
    if days:
        for index in {0, len(days) - 1}:
            x, _ = point(index, 0)
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - PAD + 16}" font-size="11" '
                f'text-anchor="middle">{escape(days[index]["key"])}</text>'
            )
    return _svg("messages", "Messages per day (blue: in, green: out)", HEIGHT, parts)


def _funnel_chart(flow: dict[str, Any]) -> str:
    """One bar per node: runs that reached it, and in red those that left the flow there."""
    nodes = flow["nodes"]
    top = max([1, *(node["reached"] for node in nodes)])
    bar, gap, label, caption = 22, 8, 180, 170
    height = PAD + len(nodes) * (bar + gap)
    parts = []
    for index, node in enumerate(nodes):
        y = PAD / 2 + index * (bar + gap)
        width = node["reached"] * (WIDTH - label - caption) / top
        dropped = node["dropped"] * (WIDTH - label - caption) / top
        name = escape(node["label"] or node["node_id"])[:28]
        parts += [
            f'<text x="4" y="{y + 15}" font-size="12">{name}</text>',
            f'<rect class="mark" x="{label}" y="{y}" width="{width:.1f}" height="{bar}" '
            f'fill="{COLOURS["reached"]}"/>',
            f'<rect x="{label}" y="{y}" width="{dropped:.1f}" height="{bar}" '
            f'fill="{COLOURS["dropped"]}"/>',
            f'<text x="{label + width + 4:.1f}" y="{y + 15}" font-size="12">'
            f"{node['reached']} reached, {node['dropped']} left</text>",
        ]
    return _svg("funnel", f"Funnel: {escape(flow['name'])}", height, parts)


def _satisfaction_chart(mood: dict[str, Any]) -> str:
    """A stacked bar of positive, neutral and negative ratings."""
    total = max(1, mood["responses"])
    x, parts = float(PAD), []
    for part in ("positive", "neutral", "negative"):
        width = mood[part] * (WIDTH - 2 * PAD) / total
        parts.append(
            f'<rect class="mark" x="{x:.1f}" y="30" width="{width:.1f}" height="40" '
            f'fill="{COLOURS[part]}"><title>{part}: {mood[part]}</title></rect>'
        )
        x += width
    score = "no ratings" if mood["score"] is None else f"score {mood['score']} / 5"
    parts.append(
        f'<text x="{PAD}" y="95" font-size="13">{mood["positive"]} positive, '
        f"{mood['neutral']} neutral, {mood['negative']} negative; {score}</text>"
    )
    return _svg("satisfaction", "Satisfaction", 110, parts)


def _svg(name: str, title: str, height: float, parts: list[str]) -> str:
    return (
        f'<h2>{title}</h2><svg data-chart="{name}" width="{WIDTH}" height="{height:.0f}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(parts)
        + "</svg>"
    )


# Once laid out, the page records each chart's drawn size and marks on <body> (for checks).
SELF_CHECK = """<script>
addEventListener("load", () => {
  const charts = {};
  for (const svg of document.querySelectorAll("svg[data-chart]")) {
    const box = svg.getBoundingClientRect();
    const drawn = [...svg.querySelectorAll(".mark")].filter(m => {
      const b = m.getBBox(); return b.width > 0 || b.height > 0; }).length;
    charts[svg.dataset.chart] = {width: box.width, height: box.height, marks: drawn};
  }
  document.body.dataset.rendered = JSON.stringify(charts);
});
</script>"""


def report_html(report: dict[str, Any]) -> str:
    """The report as one HTML file: totals, messages over time, funnels and satisfaction."""
    board, bot = report["dashboard"], report["bot"]
    rows = "".join(
        f"<tr><td>{escape(metric)}</td><td>{'' if value is None else value}</td>"
        f"<td>{'' if before is None else before}</td></tr>"
        for (metric, value), before in zip(
            board["totals"].items(), board["previous_totals"].values(), strict=True
        )
    )
    funnels = "".join(_funnel_chart(flow) for flow in report["flows"][:FUNNELS_SHOWN])
    title = f"{escape(bot['name'])}: {report['from']} to {report['to']} ({report['time_zone']})"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em;color:#222}}td{{padding:2px 12px}}
h2{{font-size:1.1em;margin-top:2em}}</style></head>
<body><h1>{title}</h1>
<table><tr><th>metric</th><th>this period</th><th>previous period</th></tr>{rows}</table>
{_line_chart(board["messages_by_day"])}
{funnels}
{_satisfaction_chart(report["satisfaction"])}
{SELF_CHECK}
</body></html>
"""
