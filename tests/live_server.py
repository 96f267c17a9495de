"""A real HTTP + websocket server for tests (uvicorn in this event loop, on a free port), and a
graphql-transport-ws client for subscriptions."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
import websockets
from fastapi import FastAPI

from graphql_api.app import create_app
from models.settings import Settings
from tests.helpers import wait_for

PROTOCOL = "graphql-transport-ws"


@asynccontextmanager
async def live_server(settings: Settings) -> AsyncIterator[tuple[FastAPI, str]]:
    """The app served on 127.0.0.1; yields it and its base URL (`http://127.0.0.1:PORT`)."""
    app = create_app(settings, settings.database_url or "")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))

    async def started() -> bool:
        return server.started

    try:
        await wait_for(started, what="the API server")
        yield app, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


class Subscription:
    """One graphql-transport-ws subscription: the payloads it receives, in order."""

    def __init__(self, socket: websockets.ClientConnection, field: str) -> None:
        self.socket, self.field = socket, field
        self.received: list[dict[str, Any]] = []

    async def next(self, timeout: float = 15.0) -> dict[str, Any]:
        """The next `next` message's payload (data and errors)."""
        while True:
            message = json.loads(await asyncio.wait_for(self.socket.recv(), timeout))
            if message["type"] == "next":
                return message["payload"]
            assert message["type"] != "error", message

    async def until(self, matches: Any, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Receive until an item satisfies `matches`; every item received so far."""
        async with asyncio.timeout(timeout):
            while not (self.received and matches(self.received[-1])):
                payload = await self.next(timeout)
                assert not payload.get("errors"), payload
                self.received.append(payload["data"][self.field])
        return self.received


@asynccontextmanager
async def subscribe(
    base_url: str, token: str | None, query: str, field: str, **variables: Any
) -> AsyncIterator[Subscription]:
    """Connect (token in `connection_init`), subscribe, and yield the subscription."""
    url = base_url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        subscription = {"query": query, "variables": variables}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscription}))
        yield Subscription(ws, field)
