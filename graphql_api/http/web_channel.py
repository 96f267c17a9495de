"""The web channel's REST endpoints: post a contact message, read or stream the bot's replies."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import select
from starlette.types import Receive, Scope, Send

from channels.base import InboundDelivery
from graphql_api.http.active_channels import StoredChannel
from graphql_api.http.ingress import active_channel, deliver
from graphql_api.live_updates import StreamRefused
from models.conversation_tables import Conversation, Message
from models.messages import MAX_TEXT_LENGTH, InboundMessage
from models.text import storable
from services.accounts.log_in_limits import source_of
from workflows.conversation_base import conversation_workflow_id

KEEPALIVE_SECONDS = 15.0
STREAM_RETRY_SECONDS = 30
CONTACT_ID_PATTERN = r"^[A-Za-z0-9_.:@+-]{1,128}$"

Text = Annotated[str | None, AfterValidator(storable)]
router = APIRouter(prefix="/channels/web", tags=["web channel"])


class WebMessageIn(BaseModel):
    """A contact's message. Repeat `message_id` when retrying: it is delivered once."""

    contact_id: str = Field(pattern=CONTACT_ID_PATTERN, description="Your id for the visitor.")
    text: Text = Field(default=None, max_length=MAX_TEXT_LENGTH)
    payload: Text = Field(default=None, max_length=256, description="A chosen option id.")
    message_id: Text = Field(default=None, max_length=128)
    name: Text = Field(default=None, max_length=256)


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


async def web_channel(request: Request, channel_id: str) -> StoredChannel:
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
        kind="button" if body.payload else "text",
        text=body.text,
        payload=body.payload,
    )
    workflow_id = await deliver(
        request, channel, InboundDelivery(body.contact_id, message, body.name)
    )
    return WebMessageAccepted(message_id=message.provider_message_id, conversation=workflow_id)


async def messages_after(
    request: Request, channel: StoredChannel, contact_id: str, after: datetime | None
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
        WebMessageOut(
            id=str(m.id),
            direction=m.direction,
            type=m.type,
            text=m.text,
            content=m.content,
            status=m.status,
            created_at=m.created_at,
        )
        for m in rows
    ]


@router.get("/{channel_id}/contacts/{contact_id}/messages", response_model=list[WebMessageOut])
async def list_messages(
    channel_id: str,
    contact_id: str,
    request: Request,
    after: datetime | None = Query(default=None, description="Only messages created after this."),
) -> list[WebMessageOut]:
    """The conversation so far, both directions, oldest first."""
    channel = await web_channel(request, channel_id)
    return await messages_after(request, channel, contact_id, after)


class HeldStream(StreamingResponse):
    """A server-sent event stream that gives its slot back however it ends."""

    def __init__(self, events: AsyncIterator[str], release: Callable[[], None]) -> None:
        super().__init__(
            events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


@router.get("/{channel_id}/contacts/{contact_id}/stream")
async def stream_messages(
    channel_id: str, contact_id: str, request: Request, after: datetime | None = None
) -> StreamingResponse:
    """Server-sent events: one `message` event per message, as it is stored.

    Streams share the process's one database listener; each client address may hold
    `max_streams_per_client` of them (else 429) and the process `max_streams` (else 503).
    """
    channel = await web_channel(request, channel_id)
    platform = request.app.state.platform
    client = source_of(request.client.host if request.client else None)
    try:
        platform.stream_slots.acquire(client)
    except StreamRefused as err:
        retry = {"Retry-After": str(STREAM_RETRY_SECONDS)}
        raise HTTPException(err.status, f"stream refused: {err.message}", retry) from None
    cursor = after or _last_event_time(request)
    workflow_id = conversation_workflow_id(str(channel.bot_id), str(channel.id), contact_id)

    async def events() -> AsyncIterator[str]:
        nonlocal cursor
        conversation: uuid.UUID | None = None
        async with platform.live_updates.subscribe("message", channel.bot_id, None) as queue:
            while not await request.is_disconnected():
                for message in await messages_after(request, channel, contact_id, cursor):
                    cursor = message.created_at
                    data = json.dumps(message.model_dump(mode="json"))
                    yield f"id: {message.created_at.isoformat()}\nevent: message\ndata: {data}\n\n"
                conversation = conversation or await conversation_of(platform, workflow_id)
                if not await changed(queue, conversation):
                    yield ": keepalive\n\n"

    return HeldStream(events(), partial(platform.stream_slots.release, client))


async def conversation_of(platform: Any, workflow_id: str) -> uuid.UUID | None:
    async with platform.sessions() as session:
        return await session.scalar(
            select(Conversation.id).where(Conversation.workflow_id == workflow_id)
        )


async def changed(queue: asyncio.Queue[Any], conversation: uuid.UUID | None) -> bool:
    """True once news of this bot may concern `conversation` (any news while it does not exist
    yet); False after a keep-alive period without such news."""
    deadline = asyncio.get_running_loop().time() + KEEPALIVE_SECONDS
    with suppress(TimeoutError):
        async with asyncio.timeout_at(deadline):
            while True:
                item = await queue.get()
                if conversation is None or item.conversation_id == conversation:
                    return True
    return False


def _last_event_time(request: Request) -> datetime | None:
    last = request.headers.get("last-event-id")
    try:
        return datetime.fromisoformat(last) if last else None
    except ValueError:
        return None
