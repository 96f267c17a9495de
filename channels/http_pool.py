"""One HTTP client per event loop for the providers' APIs, so connections (and their TLS
sessions) are reused across sends instead of being set up for every message: creating an
`httpx.AsyncClient` builds a new SSL context, which was the largest CPU cost of a send."""

from __future__ import annotations

import asyncio
import weakref

import httpx

TIMEOUT_SECONDS = 15.0
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def shared_client() -> httpx.AsyncClient:
    """The running event loop's client (a client's connections belong to one loop)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = _clients[loop] = httpx.AsyncClient(timeout=TIMEOUT_SECONDS)
    return client
