"""Proactive starts: run a published flow for a contact or a list of contacts who have not
written first. `start_flow_for_contacts` checks the request and starts one `ProactiveStart`
workflow; `proactive_progress` reads how far it got.

On WhatsApp the 24-hour window is usually closed for such contacts: the flow's first message
then goes out as the channel's `reengagement_template` (see `activities.send_message`), and the
flow continues when the contact answers it.
"""

from __future__ import annotations

import re
import uuid

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from models.tables import Channel, Flow

MAX_CONTACTS = 10_000
CONTACT_FORMS = {
    "whatsapp_cloud": (re.compile(r"^[1-9][0-9]{6,14}$"), "a WhatsApp number, digits only"),
    "twilio": (re.compile(r"^\+[1-9][0-9]{6,14}$"), "a phone number in E.164 (+34600111222)"),
    "web": (re.compile(r"^[A-Za-z0-9_.:@+-]{1,128}$"), "a web contact id"),
}


class ProactiveStartError(ValueError):
    """The request cannot be started (unknown flow or channel, too many contacts ...)."""


class ProactiveStart(BaseModel):
    """Start arguments of the `ProactiveStart` workflow."""

    bot_id: str
    channel_id: str
    channel_kind: str
    flow_id: str
    request_id: str
    contacts: list[str]
    refused: dict[str, str] = Field(default_factory=dict)


class ProactiveProgress(BaseModel):
    """How far a proactive start got: contacts handed to their conversation, and refusals."""

    total: int
    started: int = 0
    refused: dict[str, str] = Field(default_factory=dict, description="contact → reason")
    done: bool = False


def normalize_contact(kind: str, contact: str) -> str:
    """`+34 600 111 222` → `34600111222` on WhatsApp Cloud, `+34600111222` on Twilio."""
    compact = "".join(contact.split()).removeprefix("whatsapp:")
    return compact.removeprefix("+") if kind == "whatsapp_cloud" else compact


async def start_flow_for_contacts(
    client: Client, sessions: async_sessionmaker[AsyncSession], task_queue: str,
    channel_id: str, flow_id: str, contacts: list[str],
) -> str:  # fmt: skip
    """Start `flow_id` for each contact on the channel; returns the workflow id to follow.

    Contacts are normalized and deduplicated; malformed ones are reported as refused. A contact
    already in a flow run or with an agent is left alone. Raises `ProactiveStartError`.
    """
    if not contacts or len(contacts) > MAX_CONTACTS:
        raise ProactiveStartError(f"give between 1 and {MAX_CONTACTS} contacts")
    channel, flow = await _channel_and_flow(sessions, channel_id, flow_id)
    pattern, form = CONTACT_FORMS[channel.kind]
    valid: dict[str, None] = {}
    refused: dict[str, str] = {}
    for contact in contacts:
        normalized = normalize_contact(channel.kind, contact)
        if pattern.match(normalized):
            valid[normalized] = None
        else:
            refused[contact] = f"not {form}"
    request_id = uuid.uuid4().hex
    workflow_id = f"proactive-{request_id}"
    params = ProactiveStart(
        bot_id=str(channel.bot_id), channel_id=str(channel.id), channel_kind=channel.kind,
        flow_id=str(flow.id), request_id=request_id, contacts=list(valid), refused=refused,
    )  # fmt: skip
    await client.start_workflow("ProactiveStart", params, id=workflow_id, task_queue=task_queue)
    return workflow_id


async def proactive_progress(client: Client, workflow_id: str) -> ProactiveProgress:
    """The progress of a proactive start, while it runs and after it finished."""
    handle = client.get_workflow_handle(workflow_id)
    return await handle.query("progress", result_type=ProactiveProgress)


async def _channel_and_flow(
    sessions: async_sessionmaker[AsyncSession], channel_id: str, flow_id: str
) -> tuple[Channel, Flow]:
    try:
        channel_key, flow_key = uuid.UUID(channel_id), uuid.UUID(flow_id)
    except ValueError:
        raise ProactiveStartError("channel_id and flow_id must be UUIDs") from None
    async with sessions() as session:
        channel = await session.get(Channel, channel_key)
        flow = await session.get(Flow, flow_key)
    if channel is None or not channel.is_active:
        raise ProactiveStartError(f"no active channel {channel_id}")
    if flow is None or flow.bot_id != channel.bot_id:
        raise ProactiveStartError(f"the channel's bot has no flow {flow_id}")
    if flow.published_version_id is None or not flow.is_active:
        raise ProactiveStartError(f"flow {flow.name!r} is not published and active")
    return channel, flow
