"""Protection: depth, alias and token limits, introspection and GraphiQL only in development,
and unexpected failures reported without internals."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.app import create_app
from graphql_api.graph.limits import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from graphql_api.platform import Platform
from graphql_api.schema import build_schema
from models.bot_tables import Channel
from models.db import make_session_factory
from models.settings import Settings
from tests.api_fixtures import CONNECT, CREATE_BOT, WHATSAPP_CHANNEL
from tests.graphql_client import GraphQL, sign_up

INTROSPECTION = "{ __schema { queryType { name } } }"


@pytest.fixture
async def production_api(test_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    settings = test_settings.model_copy(update={"environment": "production"})
    app = create_app(settings, settings.database_url or "")
    app.state.platform = Platform(settings, settings.database_url or "")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await app.state.platform.close()


async def test_queries_deeper_than_the_limit_are_refused_before_running() -> None:
    shallow = build_schema(development=True, max_depth=2)  # today's types nest 3 levels at most
    result = await shallow.execute("{ bots { flows { versions { id } } } }")
    assert result.errors and "exceeds maximum operation depth of 2" in result.errors[0].message
    assert result.errors[0].extensions == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert MAX_DEPTH >= 5


async def test_alias_and_token_limits(api: httpx.AsyncClient) -> None:
    anonymous = GraphQL(api)

    aliases = " ".join(f"a{i}: version" for i in range(MAX_ALIASES + 1))
    many = await anonymous.error(f"{{ {aliases} }}")
    assert many["code"] == "GRAPHQL_VALIDATION_FAILED" and "aliases" in many["message"]

    tokens = await anonymous.result("{ " + "version " * MAX_TOKENS + "}")
    assert f"more than {MAX_TOKENS} tokens" in tokens["errors"][0]["message"]
    assert tokens["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_introspection_and_graphiql_only_in_development(
    api: httpx.AsyncClient, production_api: httpx.AsyncClient
) -> None:
    assert (await GraphQL(api)(INTROSPECTION))["__schema"]["queryType"]["name"] == "Query"
    assert "graphiql" in (await api.get("/graphql", headers={"Accept": "text/html"})).text.lower()

    refused = (await GraphQL(production_api).result(INTROSPECTION))["errors"][0]
    assert refused["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "introspection has been disabled" in refused["message"]
    page = await production_api.get("/graphql", headers={"Accept": "text/html"})
    assert "graphiql" not in page.text.lower()
    assert (await GraphQL(production_api)("{ version }"))["version"]


async def test_an_unexpected_failure_shows_no_internals(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    owner, _ = await sign_up(api)
    bot = (await owner(CREATE_BOT, name="Bot"))["createBot"]["id"]
    channel = (await owner(CONNECT, bot=bot, input=WHATSAPP_CHANNEL))["connectChannel"]["id"]
    async with make_session_factory(db_engine).begin() as session:  # a corrupted ciphertext
        await session.execute(update(Channel).values(secrets_encrypted="garbage"))

    error = await owner.error(
        """mutation($id: ID!) { updateChannel(id: $id, input: {config: {phone_number_id: "1"}})
           { id } }""",
        id=channel,
    )
    assert error["code"] == "INTERNAL_SERVER_ERROR"
    assert error["message"] == "Internal server error; it has been logged."
    assert set(error["extensions"]) == {"code"}
