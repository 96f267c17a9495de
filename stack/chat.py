"""`botbuilder chat BOT`: talk to a bot in the terminal through the web channel's HTTP API."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid

import httpx

from stack.demo import find_web_channel


async def stream_replies(client: httpx.AsyncClient, stream_url: str) -> None:
    """Print the bot's messages as the SSE stream delivers them."""
    async with client.stream("GET", stream_url, timeout=None) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            message = json.loads(line[len("data: ") :])
            if message["direction"] == "outbound":
                text = message["text"] or json.dumps(message["content"], ensure_ascii=False)
                print("\n".join(f"bot> {part}" for part in text.splitlines()), flush=True)


async def chat(database_url: str, api_url: str, bot_ref: str, contact_id: str | None) -> int:
    channel = await find_web_channel(database_url, bot_ref)
    if channel is None:
        print(f"error: no bot {bot_ref!r} with a web channel", file=sys.stderr)
        return 1
    contact = contact_id or f"cli-{uuid.uuid4().hex[:8]}"
    base = f"{api_url.rstrip('/')}/channels/web/{channel.id}"
    print(f"Chatting as {contact!r}; type a message, Ctrl-D to quit.", flush=True)
    async with httpx.AsyncClient() as client:
        replies = asyncio.create_task(stream_replies(client, f"{base}/contacts/{contact}/stream"))
        loop = asyncio.get_running_loop()
        try:
            while (line := await loop.run_in_executor(None, sys.stdin.readline)) != "":
                if text := line.strip():
                    answer = await client.post(
                        f"{base}/messages", json={"contact_id": contact, "text": text}
                    )
                    if answer.status_code != 202:
                        print(f"error: {answer.status_code} {answer.text}", file=sys.stderr)
        finally:
            replies.cancel()
    return 0
