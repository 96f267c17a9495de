"""Subscriptions check credentials and tenancy like queries, and one conversation's
subscription sees only that conversation."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.graph import subscriptions
from models.settings import Settings
from services.conversations.notify import CONVERSATIONS_CHANNEL
from tests.api_fixtures import CONNECT, CREATE_BOT
from tests.graphql_client import sign_up
from tests.helpers import WebChat, wait_for
from tests.inbox_fixtures import team_with_bot
from tests.live_server import Subscription, live_server, subscribe

MESSAGES = """subscription($bot: ID, $c: ID) {
  messages(botId: $bot, conversationId: $c) { id conversationId direction text } }"""


async def first_error(base_url: str, token: str | None, **variables: str | None) -> dict:
    async with subscribe(base_url, token, MESSAGES, "messages", **variables) as subscription:
        message = json.loads(await subscription.socket.recv())
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert len(errors) == 1, message
    return {"code": errors[0]["extensions"]["code"], "message": errors[0]["message"]}


async def test_subscriptions_refuse_strangers_and_other_organizations(
    api: httpx.AsyncClient, test_settings: Settings
) -> None:
    async with live_server(test_settings) as (_app, base_url):
        async with httpx.AsyncClient(base_url=base_url) as http:
            alice, _ = await sign_up(http, org="Alice")
            bob, _ = await sign_up(http, org="Bob")
            bobs_bot = (await bob(CREATE_BOT, name="Bob's"))["createBot"]["id"]
            await bob(CONNECT, bot=bobs_bot, input={"kind": "WEB"})

            nobody = await first_error(base_url, None, bot=bobs_bot)
            assert nobody["code"] == "UNAUTHENTICATED"
            foreign = await first_error(base_url, alice.token, bot=bobs_bot)
            missing = await first_error(base_url, alice.token, bot=str(uuid.uuid4()))
            assert foreign == missing and foreign["code"] == "NOT_FOUND"
            both = await first_error(base_url, bob.token, bot=bobs_bot, c=str(uuid.uuid4()))
            assert both["code"] == "BAD_USER_INPUT"


async def listening_connections(engine: AsyncEngine) -> int:
    """The live updates' LISTEN connections (the last thing each ran)."""
    async with engine.connect() as connection:
        return await connection.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE query = :listen"),
            {"listen": f"LISTEN {CONVERSATIONS_CHANNEL}"},
        )


async def test_a_conversation_subscription_sees_only_that_conversation_from_now_on(
    api: httpx.AsyncClient, test_settings: Settings, db_engine: AsyncEngine
) -> None:
    async with live_server(test_settings) as (app, base_url):
        async with httpx.AsyncClient(base_url=base_url) as http:
            owner, _ = await sign_up(http, org="Shop")
            bot = (await owner(CREATE_BOT, name="Shop bot"))["createBot"]["id"]
            web = (await owner(CONNECT, bot=bot, input={"kind": "WEB"}))["connectChannel"]["id"]
            first, second = WebChat(http, web, "first"), WebChat(http, web, "second")
            await first.say("before subscribing")

            async def conversation() -> str | None:
                page = await owner("query { conversations { items { id } } }")
                items = page["conversations"]["items"]
                return items[0]["id"] if items else None

            mine = await wait_for(conversation, what="the first conversation")
            async with (
                subscribe(base_url, owner.token, MESSAGES, "messages", c=mine) as live,
                subscribe(base_url, owner.token, MESSAGES, "messages", bot=bot),
            ):
                count = app.state.platform.live_updates.subscriber_count

                async def subscribed() -> bool:
                    return count() == 2

                await wait_for(subscribed, what="the subscriptions")
                assert await listening_connections(db_engine) == 1  # shared by subscribers
                await second.say("someone else")
                await first.say("after subscribing")
                seen = await live.until(lambda m: m["text"] == "after subscribing")
            assert [(m["conversationId"], m["text"]) for m in seen] == [(mine, "after subscribing")]


async def test_a_removed_member_stops_receiving_updates(
    api: httpx.AsyncClient, test_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subscriptions, "ACCESS_RECHECK_SECONDS", 0.0)  # check before every update
    async with live_server(test_settings) as (app, base_url):
        async with httpx.AsyncClient(base_url=base_url) as http:
            team = await team_with_bot(http)
            visitor = WebChat(http, team.web, "visitor")
            async with subscribe(
                base_url, team.agent.token, MESSAGES, "messages", bot=team.bot
            ) as live:
                count = app.state.platform.live_updates.subscriber_count

                async def subscribed() -> bool:
                    return count() == 1

                await wait_for(subscribed, what="the subscription")
                await visitor.say("first")
                await live.until(lambda m: m["text"] == "first")
                await team.owner(
                    "mutation($id: ID!) { removeMember(userId: $id) }", id=team.agent_id
                )
                await visitor.say("second")
                cut_off = await cut_off_error(live)
    assert cut_off["extensions"]["code"] == "UNAUTHENTICATED"
    assert "no longer a member" in cut_off["message"]


async def cut_off_error(live: Subscription) -> dict:
    """The error that ends the subscription (messages received before it are skipped)."""
    while True:
        message = json.loads(await asyncio.wait_for(live.socket.recv(), 15))
        errors = (
            message["payload"]
            if message["type"] == "error"
            else message.get("payload", {}).get("errors")
        )
        if errors:
            return errors[0]
