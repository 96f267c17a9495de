"""Analytics downloads over HTTP, authenticated like GraphQL (token or API key).

`/api/bots/{bot_id}/analytics/{what}.{format}?from=YYYY-MM-DD&to=YYYY-MM-DD&tz=Zone` where
`what` is `report` (csv, json or html), `messages` or `conversations` (csv or json, streamed).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from graphql_api.auth import Caller
from graphql_api.http.files import attachment, caller
from graphql_api.ids import parse_id
from models.bot_tables import Bot
from models.errors import NotFound
from services.analytics import exports as analytics_exports
from services.analytics import queries
from services.analytics import report as analytics_report
from services.flows.import_export import file_stem
from services.tenancy import bot_in

router = APIRouter(prefix="/api/bots/{bot_id}/analytics", tags=["analytics exports"])
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "html": "text/html; charset=utf-8",
}
FROM = Query(alias="from", description="First local day.")
TO = Query(alias="to", description="Last local day (inclusive).")
ZONE = Query(default="UTC", description="IANA time zone.")


async def bot_period(
    request: Request, who: Caller, bot_id: str, first: date, last: date, zone: str
) -> tuple[Bot, queries.Period]:
    async with request.app.state.platform.sessions() as session:
        bot = await bot_in(session, who.organization_id, parse_id(bot_id, "bot"))
    return bot, queries.make_period([bot.id], first, last, zone)


def download_name(bot: Bot, what: str, period: queries.Period, extension: str) -> str:
    return f"{file_stem(bot.name)}_{what}_{period.first}_{period.last}.{extension}"


@router.get("/report.{extension}")
async def report(
    bot_id: str,
    extension: str,
    request: Request,
    first: date = FROM,
    last: date = TO,
    tz: str = ZONE,
    who: Caller = Depends(caller),
) -> Response:
    """The report: totals, trends, breakdowns, satisfaction and every flow's funnel."""
    if extension not in MEDIA:
        raise NotFound("reports come as .csv, .json or .html")
    bot, period = await bot_period(request, who, bot_id, first, last, tz)
    body = await analytics_report.build_report(request.app.state.platform.sessions, period, bot)
    if extension == "json":
        content = json.dumps(body, indent=2, default=str)
    elif extension == "csv":
        content = analytics_report.report_csv(body)
    else:
        content = analytics_report.report_html(body)
    name = download_name(bot, "report", period, extension)
    return attachment(content.encode(), name, MEDIA[extension])


@router.get("/{what}.{extension}")
async def raw_rows(
    bot_id: str,
    what: str,
    extension: str,
    request: Request,
    first: date = FROM,
    last: date = TO,
    tz: str = ZONE,
    who: Caller = Depends(caller),
) -> StreamingResponse:
    """Every message (or conversation started) in the period, streamed as CSV or JSON."""
    if what not in ("messages", "conversations") or extension not in ("csv", "json"):
        raise NotFound("exports are messages or conversations, as .csv or .json")
    bot, period = await bot_period(request, who, bot_id, first, last, tz)
    engine = request.app.state.platform.engine
    stream = analytics_exports.stream_csv if extension == "csv" else analytics_exports.stream_json
    chunks: AsyncIterator[bytes] = stream(engine, what, period)  # type: ignore[arg-type]
    disposition = f'attachment; filename="{download_name(bot, what, period, extension)}"'
    return StreamingResponse(
        chunks, media_type=MEDIA[extension], headers={"Content-Disposition": disposition}
    )
