"""Test helpers: waiting on conditions with deadlines, and bots built through the real code."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from graphql_api.app import create_app
from graphql_api.platform import Platform
from models.db import make_session_factory
from models.settings import Settings
from services.bots.publishing import (
    add_channel,
    create_bot,
    create_flow,
    create_organization,
    publish_flow,
)

T = TypeVar("T")


def node(node_id: str, node_type: str, **data: Any) -> dict[str, Any]:
    """A flow node in the seeds' shape."""
    return {"id": node_id, "type": node_type, "position": {"x": 0, "y": 0}, "data": data}


def chain(*nodes: dict[str, Any]) -> dict[str, Any]:
    """A flow running `nodes` one after the other."""
    edges = [
        {"id": f"e{n}", "source": a["id"], "target": b["id"]}
        for n, (a, b) in enumerate(pairwise(nodes))
    ]
    return {"name": "flow", "nodes": list(nodes), "edges": edges}


async def wait_for(
    probe: Callable[[], Awaitable[T]], *, timeout: float = 15.0, what: str = "condition"
) -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


async def rollups_drained(engine: AsyncEngine, timeout: float = 15.0) -> None:
    """Wait until the analytics drainer has folded every committed fact into the rollups (a
    drain deletes its facts in the transaction that adds them up: none visible, none pending)."""

    async def drained() -> bool:
        async with engine.connect() as connection:
            return not await connection.scalar(text("SELECT EXISTS (SELECT FROM analytics_facts)"))

    await wait_for(drained, timeout=timeout, what="the analytics drainer to fold every fact")


async def make_web_bot(
    engine: AsyncEngine,
    definition: dict[str, Any],
    *,
    trigger: dict[str, Any] | None = None,
    bot_settings: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """An organization, a bot with a web channel, and `definition` published as its default flow.

    Returns (bot id, web channel id).
    """
    return await make_bot(engine, definition, trigger=trigger, bot_settings=bot_settings)


async def make_bot(
    engine: AsyncEngine,
    definition: dict[str, Any],
    *,
    kind: str = "web",
    config: dict[str, Any] | None = None,
    secrets_encrypted: str | None = None,
    trigger: dict[str, Any] | None = None,
    bot_settings: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """Like `make_web_bot`, on a channel of any kind. Returns (bot id, channel id)."""
    async with make_session_factory(engine).begin() as session:
        organization = await create_organization(session, "Test org", f"org-{uuid.uuid4().hex}")
        bot = await create_bot(session, organization.id, "test bot", settings=bot_settings)
        channel = await add_channel(session, bot.id, kind, kind.title(), config, secrets_encrypted)
        flow = await create_flow(
            session,
            bot.id,
            definition,
            name=definition.get("name") or "flow",
            trigger=trigger or {"type": "default", "keywords": [], "pattern": None},
        )
        await publish_flow(session, flow, "test")
        if trigger is None:
            bot.default_flow_id = flow.id
        return str(bot.id), str(channel.id)


class WebChat:
    """A visitor on the web channel: says things and reads the bot's replies."""

    def __init__(self, api: httpx.AsyncClient, channel_id: str, contact_id: str) -> None:
        self.api, self.channel_id, self.contact_id = api, channel_id, contact_id

    async def say(
        self, text: str | None = None, *, payload: str | None = None, message_id: str | None = None
    ) -> dict[str, Any]:
        body = {
            "contact_id": self.contact_id,
            "text": text,
            "payload": payload,
            "message_id": message_id,
        }
        response = await self.api.post(f"/channels/web/{self.channel_id}/messages", json=body)
        assert response.status_code == 202, response.text
        return response.json()

    async def messages(self) -> list[dict[str, Any]]:
        response = await self.api.get(
            f"/channels/web/{self.channel_id}/contacts/{self.contact_id}/messages"
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def replies(self) -> list[str]:
        return [m["text"] for m in await self.messages() if m["direction"] == "outbound"]

    async def wait_replies(self, count: int, timeout: float = 15.0) -> list[str]:
        """The bot's replies once there are at least `count` of them."""

        async def enough() -> list[str] | None:
            replies = await self.replies()
            return replies if len(replies) >= count else None

        return await wait_for(enough, timeout=timeout, what=f"{count} bot replies")


@asynccontextmanager
async def api_client(
    settings: Settings, client_address: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on a real FastAPI app built from `settings` (in-process, no sockets),
    calling from `client_address`."""
    app = create_app(settings, settings.database_url or "")
    app.state.platform = Platform(settings, settings.database_url or "")
    transport = httpx.ASGITransport(app=app, client=(client_address, 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        await app.state.platform.close()


HISTORIES = Path(__file__).parent / "histories"


async def history_counts(handle: WorkflowHandle[Any, Any]) -> Counter[str]:
    """How many events of each type a workflow run recorded, by type name without its prefix
    (`TIMER_STARTED` ...); patch markers count as `PATCH` besides `MARKER_RECORDED`."""
    counts: Counter[str] = Counter()
    async for event in handle.fetch_history_events():
        counts[EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")] += 1
        marker = event.marker_recorded_event_attributes.marker_name
        counts["PATCH"] += int(marker == "core_patch")
    return counts


async def save_histories(client: Client, since: datetime, folder: Path) -> None:
    """Write the history of every workflow started after `since` as `<folder>/<id>.json`."""
    folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240  (a test-only recording tool)
    query = f"StartTime >= '{since.isoformat()}'"
    saved: set[str] = set()
    async for execution in client.list_workflows(query):  # every execution, also of one id
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        history = await handle.fetch_history()
        name = execution.id.replace("/", "_")
        name = f"{name}@{execution.run_id[:8]}" if name in saved else name
        saved.add(name)
        (folder / f"{name}.json").write_text(history.to_json())
