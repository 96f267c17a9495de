"""Deleting a bot while a conversation's write holds rows the delete cascades through: the
database breaks the deadlock by failing one side, and `deleteBot` tries again instead of
answering INTERNAL_SERVER_ERROR."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from models.bot_tables import Bot as BotRow
from models.conversation_tables import FlowRun
from tests.api_fixtures import live_web_bot
from tests.graphql_client import sign_up
from tests.helpers import WebChat, chain, node, wait_for
from tests.test_api_management import count

DELETE_BOT = "mutation($id: ID!) { deleteBot(id: $id) }"
DELETE_WAITS = text(
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE wait_event_type = 'Lock' AND query ILIKE 'DELETE FROM bots%'"
)


async def test_deleting_a_bot_that_deadlocks_with_a_flow_run_write_succeeds(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    owner, _ = await sign_up(api)
    definition = chain(node("hi", "message", content="Hi"), node("bye", "message", content="Bye"))
    bot, web = await live_web_bot(owner, "Busy", definition)
    await WebChat(api, web["id"], "visitor").say("hello")
    await WebChat(api, web["id"], "visitor").wait_replies(2)

    async with db_engine.connect() as writer:
        # A flow run's write: it holds its run's row, then needs the bot (as opening a
        # conversation does) while the delete holds the bot and waits for the run.
        run_id = await writer.scalar(select(FlowRun.id))
        await writer.execute(text("SET LOCAL deadlock_timeout = '20s'"))  # the delete loses
        await writer.execute(
            text("UPDATE flow_runs SET status = status WHERE id = :id"), {"id": run_id}
        )
        deleting = asyncio.ensure_future(owner.result(DELETE_BOT, id=bot["id"]))

        async def delete_waits() -> bool:
            async with db_engine.connect() as probe:
                return bool(await probe.scalar(DELETE_WAITS))

        await wait_for(delete_waits, timeout=30, what="the delete to wait for the run's row")
        await writer.execute(
            text("SELECT id FROM bots WHERE id = :id FOR KEY SHARE"), {"id": bot["id"]}
        )
        await writer.commit()
        result = await deleting

    assert result.get("errors") is None, result["errors"]
    assert result["data"]["deleteBot"] == bot["id"]
    assert await count(db_engine, BotRow) == 0
