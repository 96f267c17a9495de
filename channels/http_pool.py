"""One HTTP session per event loop for the providers' APIs, so connections are reused across
sends instead of being set up for every message.

aiohttp rather than httpx: on a local Graph API a POST costs about a sixth of httpx's CPU, and
a new session costs nothing where a new `httpx.AsyncClient` builds an SSL context (30 ms, and
a first request that waited 150 ms on a fresh worker).
"""

from __future__ import annotations

import asyncio
import weakref

import aiohttp

TIMEOUT = aiohttp.ClientTimeout(total=15.0)
_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
    weakref.WeakKeyDictionary()
)


def shared_session() -> aiohttp.ClientSession:
    """The running event loop's session (a session's connections belong to one loop)."""
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        session = _sessions[loop] = aiohttp.ClientSession(timeout=TIMEOUT)
    return session


async def close_shared_session() -> None:
    """Close the running event loop's session, if it has one (a process shutting down)."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()
