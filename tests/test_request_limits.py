"""One request cannot be made very expensive: a cost limit on GraphQL queries, body limits on
every endpoint (refused before the body is read whole), and size limits on flows."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from flowlang.graph import MAX_FLOW_NODES, MAX_KEYWORDS
from models.bot_tables import Bot
from models.settings import Settings
from tests.api_fixtures import CREATE_BOT
from tests.graphql_client import sign_up
from tests.helpers import api_client, chain, make_web_bot, node

EXPENSIVE = "{ bots(first: 100) { channels { id } flows { versions { definition } } } }"
CREATE_FLOW = """mutation($bot: ID!, $input: FlowInput!) { createFlow(botId: $bot, input: $input)
  { id } }"""
MB = 1024 * 1024


async def test_an_expensive_query_is_refused_before_it_runs(api: httpx.AsyncClient) -> None:
    owner, _ = await sign_up(api)
    await owner(CREATE_BOT, name="Shop")

    refused = await owner.error(EXPENSIVE)
    assert refused["code"] == "QUERY_TOO_COMPLEX"
    assert (
        "estimated cost" in refused["message"] and "over the limit of 10000" in refused["message"]
    )
    assert refused["extensions"]["cost"] > 10_000

    live = "{0}: conversations(first: $n) {{ items {{ position {{ runId }} }} }}"
    one = f"query($n: Int!) {{ {live.format('a')} }}"
    assert await owner(one, n=100)  # 100 live Temporal queries: allowed
    two = f"query($n: Int!) {{ {live.format('a')} {live.format('b')} }}"
    assert (await owner.error(two, n=100))["code"] == "QUERY_TOO_COMPLEX"  # 200: refused
    assert await owner(two, n=40)
    assert await owner("{ bots(first: 100) { name channels { id } flows { id name } } }")


async def test_the_cost_limit_refuses_a_mutation_before_anything_is_written(
    test_settings: Settings, db_engine: AsyncEngine, clean_db: None
) -> None:
    async with api_client(test_settings.model_copy(update={"max_query_cost": 500})) as api:
        owner, _ = await sign_up(api)
        heavy = (
            'mutation { createBot(input: {name: "Heavy"}) { flows { versions { definition } } } }'
        )
        assert (await owner.error(heavy))["code"] == "QUERY_TOO_COMPLEX"
    async with db_engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(Bot)) == 0


async def test_flows_have_node_and_keyword_limits(api: httpx.AsyncClient) -> None:
    owner, _ = await sign_up(api)
    bot = (await owner(CREATE_BOT, name="Shop"))["createBot"]["id"]
    nodes = [node(f"n{i}", "message", content="hi") for i in range(MAX_FLOW_NODES + 1)]
    too_big = await owner.error(
        CREATE_FLOW, bot=bot, input={"name": "Big", "definition": {"nodes": nodes, "edges": []}}
    )
    assert too_big["code"] == "BAD_USER_INPUT" and "nodes" in too_big["message"]
    keywords = [f"k{i}" for i in range(MAX_KEYWORDS + 1)]
    chatty = await owner.error(
        CREATE_FLOW,
        bot=bot,
        input={"name": "Chatty", "trigger": {"type": "keyword", "keywords": keywords}},
    )
    assert chatty["code"] == "BAD_USER_INPUT" and "keywords" in chatty["message"]
    described = await owner.error(
        CREATE_FLOW, bot=bot, input={"name": "Long", "description": "x" * 2001}
    )
    assert described["code"] == "BAD_USER_INPUT" and "description" in described["message"]


class Sent:
    """A streamed request body of `total` bytes, counting how much the server pulled."""

    def __init__(self, total: int) -> None:
        self.total, self.read = total, 0

    async def body(self) -> AsyncIterator[bytes]:
        chunk = b"x" * (64 * 1024)
        while self.read < self.total:
            self.read += len(chunk)
            yield chunk


@pytest.mark.parametrize(
    "path",
    [
        "/graphql",
        "/channels/web/{web}/messages",
        "/channels/whatsapp/{web}/webhook",
        "/channels/twilio/{web}/webhook",
        "/api/bots/import",
    ],
)
async def test_oversized_bodies_are_refused_without_being_read_whole(
    api: httpx.AsyncClient, db_engine: AsyncEngine, path: str
) -> None:
    _bot, web = await make_web_bot(db_engine, chain(node("hi", "message", content="Hi")))
    url = path.format(web=web)
    declared = await api.post(url, content=b"{}", headers={"Content-Length": str(50 * MB)})
    assert declared.status_code == 413, declared.text

    sent = Sent(200 * MB)  # chunked, no Content-Length: counted as it arrives
    streamed = await api.post(url, content=sent.body(), headers={"Content-Type": "text/plain"})
    assert streamed.status_code == 413
    assert "larger than the limit" in streamed.text
    assert sent.read <= 11 * MB  # the largest limit (import files) plus one chunk
