"""The web channel's REST endpoints: post a contact message, read or stream the bot's replies."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import psycopg
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from channels.base import InboundDelivery
from graphql_api.ingress import active_channel, deliver
from models.conversation_tables import Conversation, Message
from models.messages import InboundMessage
from models.tables import Channel
from workflows.conversation import conversation_workflow_id

KEEPALIVE_SECONDS = 15.0
CONTACT_ID_PATTERN = r"^[A-Za-z0-9_.:@+-]{1,128}$"

router = APIRouter(prefix="/channels/web", tags=["web channel"])


class WebMessageIn(BaseModel):
    """A contact's message. Repeat `message_id` when retrying: it is delivered once."""

    contact_id: str = Field(pattern=CONTACT_ID_PATTERN, description="Your id for the visitor.")
    text: str | None = Field(default=None, max_length=4096)
    payload: str | None = Field(default=None, max_length=256, description="A chosen option id.")
    message_id: str | None = Field(default=None, max_length=128)
    name: str | None = Field(default=None, max_length=256)


class WebMessageAccepted(BaseModel):
    message_id: str
    conversation: str


class WebMessageOut(BaseModel):
    id: str
    direction: str
    type: str
    text: str | None
    content: dict[str, Any]
    status: str
    created_at: datetime


async def web_channel(request: Request, channel_id: str) -> Channel:
    """The active web channel with this id, or 404."""
    return await active_channel(request, channel_id, "web")


@router.post("/{channel_id}/messages", status_code=202, response_model=WebMessageAccepted)
async def post_message(channel_id: str, body: WebMessageIn, request: Request) -> WebMessageAccepted:
    """Accepted once the message is durably with Temporal (signal-with-start); 429 when the
    client's address posts faster than `web_messages_per_minute`."""
    request.app.state.platform.web_message_limiter.check(request)
    if not (body.text or body.payload):
        raise HTTPException(422, "a message needs `text` or `payload`")
    channel = await web_channel(request, channel_id)
    message = InboundMessage(
        provider_message_id=body.message_id or str(uuid.uuid4()),
        kind="button" if body.payload else "text", text=body.text, payload=body.payload,
    )  # fmt: skip
    workflow_id = await deliver(
        request, channel, InboundDelivery(body.contact_id, message, body.name)
    )
    return WebMessageAccepted(message_id=message.provider_message_id, conversation=workflow_id)


async def messages_after(
    request: Request, channel: Channel, contact_id: str, after: datetime | None
) -> list[WebMessageOut]:
    workflow_id = conversation_workflow_id(str(channel.bot_id), str(channel.id), contact_id)
    query = (
        select(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.workflow_id == workflow_id)
        .order_by(Message.created_at, Message.id)
    )
    if after is not None:
        query = query.where(Message.created_at > after)
    async with request.app.state.platform.sessions() as session:
        rows = (await session.scalars(query)).all()
    return [
        WebMessageOut(id=str(m.id), direction=m.direction, type=m.type, text=m.text,
                      content=m.content, status=m.status, created_at=m.created_at)
        for m in rows
    ]  # fmt: skip


@router.get("/{channel_id}/contacts/{contact_id}/messages", response_model=list[WebMessageOut])
async def list_messages(
    channel_id: str, contact_id: str, request: Request,
    after: datetime | None = Query(default=None, description="Only messages created after this."),
) -> list[WebMessageOut]:  # fmt: skip
    """The conversation so far, both directions, oldest first."""
    channel = await web_channel(request, channel_id)
    return await messages_after(request, channel, contact_id, after)


@router.get("/{channel_id}/contacts/{contact_id}/stream")
async def stream_messages(
    channel_id: str, contact_id: str, request: Request, after: datetime | None = None
) -> StreamingResponse:
    """Server-sent events: one `message` event per message, as it is stored."""
    channel = await web_channel(request, channel_id)
    cursor = after or _last_event_time(request)
    database_url = request.app.state.platform.database_url

    async def events() -> AsyncIterator[str]:
        nonlocal cursor
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute("LISTEN bb_messages")
            while not await request.is_disconnected():
                for message in await messages_after(request, channel, contact_id, cursor):
                    cursor = message.created_at
                    data = json.dumps(message.model_dump(mode="json"))
                    yield f"id: {message.created_at.isoformat()}\nevent: message\ndata: {data}\n\n"
                got = False
                async for _ in conn.notifies(timeout=KEEPALIVE_SECONDS, stop_after=1):
                    got = True
                if not got:
                    yield ": keepalive\n\n"
                await asyncio.sleep(0)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})  # fmt: skip


def _last_event_time(request: Request) -> datetime | None:
    last = request.headers.get("last-event-id")
    try:
        return datetime.fromisoformat(last) if last else None
    except ValueError:
        return None
