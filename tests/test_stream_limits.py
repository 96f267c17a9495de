"""Web-channel event streams share one database listener and are capped per client and in
total, so anonymous streams cannot use up PostgreSQL's connections."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from models.settings import Settings
from tests.graphql_client import sign_up
from tests.helpers import WebChat, chain, make_web_bot, node, wait_for
from tests.live_server import live_server

PER_CLIENT = 25


async def database_connections(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return await connection.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
        )


async def test_streams_over_the_caps_are_refused_and_postgres_stays_bounded(
    api: httpx.AsyncClient, test_settings: Settings, db_engine: AsyncEngine
) -> None:
    settings = test_settings.model_copy(
        update={"max_streams": PER_CLIENT + 1, "max_streams_per_client": PER_CLIENT}
    )
    _bot, channel = await make_web_bot(db_engine, chain(node("hi", "message", content="Hi")))
    async with (
        live_server(settings) as (app, base_url),
        httpx.AsyncClient(base_url=base_url, timeout=20) as here,
        httpx.AsyncClient(
            base_url=base_url, transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        ) as elsewhere,
        AsyncExitStack() as streams,
    ):
        await sign_up(here, org="Warm-up")  # the API's pool holds its usual connections
        before = await database_connections(db_engine)

        async def open_stream(client: httpx.AsyncClient, contact: str) -> httpx.Response:
            url = f"/channels/web/{channel}/contacts/{contact}/stream"
            return await streams.enter_async_context(client.stream("GET", url))

        opened = [await open_stream(here, f"visitor-{n}") for n in range(PER_CLIENT)]
        assert {r.status_code for r in opened} == {200}
        per_client = await open_stream(here, "one-too-many")
        assert per_client.status_code == 429 and per_client.headers["retry-after"]
        message = f"at most {PER_CLIENT} open streams per client"
        assert message in (await per_client.aread()).decode()
        assert (await open_stream(elsewhere, "from-elsewhere")).status_code == 200
        full = await open_stream(elsewhere, "over-the-total")
        assert full.status_code == 503
        assert f"maximum of {PER_CLIENT + 1} open streams" in (await full.aread()).decode()

        owner, _ = await sign_up(here, org="Still answering")  # GraphQL and the database work
        assert owner.token
        # one shared listener plus the API's own pool (5 + 10 overflow), not one per stream
        assert await database_connections(db_engine) <= before + 1 + 15 < before + PER_CLIENT

        await WebChat(here, channel, "visitor-0").say("hello stream")
        lines = opened[0].aiter_lines()

        async def event_text() -> str | None:
            line = await anext(lines)
            return json.loads(line[len("data: ") :])["text"] if line.startswith("data:") else None

        assert await wait_for(event_text, what="the streamed message") == "hello stream"

        await streams.aclose()
        slots = app.state.platform.stream_slots

        async def released() -> bool:
            return slots.count() == 0

        await wait_for(released, what="the closed streams to give their slots back")
