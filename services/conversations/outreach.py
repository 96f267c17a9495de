"""Proactive starts (outreaches): checked creation, progress, and the workflow's input."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.bot_tables import Bot, Channel
from models.errors import InvalidInput, NotFound
from models.flow_tables import Flow
from models.outreach_tables import Outreach, OutreachContact

MAX_CONTACTS = 10_000
MAX_PER_SECOND = 100
CONTACT_PATTERNS = {  # what each channel kind accepts as a contact id, once normalized
    "web": r"[A-Za-z0-9_.:@+-]{1,128}",
    "whatsapp_cloud": r"[0-9]{6,15}",
    "twilio": r"\+[0-9]{6,15}",
}


class OutreachInput(BaseModel):
    """Start arguments of `OutreachWorkflow`; the contacts are in the `outreach_contacts` table."""

    outreach_id: str
    next_position: int = 0


@dataclass(frozen=True)
class OutreachProgress:
    """How far an outreach is: counts by status and the reasons of failed starts."""

    total: int
    pending: int
    started: int
    failed: int
    failures: list[OutreachContact]


def normalize_contact(channel_kind: str, contact: str) -> str:
    """The id inbound messages will carry: `+34 600 111 222` is `34600111222` on WhatsApp
    Cloud (a wa_id) and `+34600111222` on Twilio (`whatsapp:` is the sender's business)."""
    if channel_kind == "web":
        return contact
    compact = "".join(contact.split()).removeprefix("whatsapp:")
    return compact.removeprefix("+") if channel_kind == "whatsapp_cloud" else compact


def check_contacts(
    contacts: list[tuple[str, str | None]], channel_kind: str
) -> list[tuple[str, str | None]]:
    """The contacts with normalized ids; refuses an empty, too long or repetitive list, or ids
    the channel cannot reach."""
    if not contacts:
        raise InvalidInput("give at least one contact")
    if len(contacts) > MAX_CONTACTS:
        raise InvalidInput(f"at most {MAX_CONTACTS} contacts per start (got {len(contacts)})")
    problems: list[dict[str, Any]] = []
    seen: set[str] = set()
    pattern = CONTACT_PATTERNS.get(channel_kind)
    normalized = [(normalize_contact(channel_kind, raw), name) for raw, name in contacts]
    for index, (external_id, _name) in enumerate(normalized):
        where = f"contacts[{index}]"
        if pattern is not None and not re.fullmatch(pattern, external_id):
            problems.append(
                {
                    "field": where,
                    "message": f"{where}: {external_id!r} is not a {channel_kind} contact id",
                }
            )
        elif external_id in seen:
            problems.append({"field": where, "message": f"{where}: {external_id!r} is repeated"})
        seen.add(external_id)
    if problems:
        shown = "; ".join(problem["message"] for problem in problems[:5])
        raise InvalidInput(f"some contacts cannot be started: {shown}", problems)
    return normalized


async def create_outreach(
    session: AsyncSession,
    flow: Flow,
    channel: Channel,
    contacts: list[tuple[str, str | None]],
    messages_per_second: int,
    created_by: uuid.UUID | None,
) -> Outreach:
    """The outreach and its pending contacts (its workflow is started by the caller)."""
    if channel.bot_id != flow.bot_id:
        raise InvalidInput("the flow and the channel belong to different bots")
    if not channel.is_active:
        raise InvalidInput("the channel is disconnected")
    if flow.published_version_id is None:
        raise InvalidInput("publish the flow before starting it")
    if not 1 <= messages_per_second <= MAX_PER_SECOND:
        raise InvalidInput(f"messagesPerSecond must be between 1 and {MAX_PER_SECOND}")
    contacts = check_contacts(contacts, channel.kind)
    outreach_id = uuid.uuid4()
    outreach = Outreach(
        id=outreach_id,
        bot_id=flow.bot_id,
        channel_id=channel.id,
        flow_id=flow.id,
        flow_version_id=flow.published_version_id,
        workflow_id=f"outreach-{outreach_id}",
        messages_per_second=messages_per_second,
        created_by=created_by,
    )
    session.add(outreach)
    await session.flush()
    await session.execute(
        insert(OutreachContact),
        [
            {
                "outreach_id": outreach_id,
                "position": position,
                "external_id": external_id,
                "name": name,
            }
            for position, (external_id, name) in enumerate(contacts)
        ],
    )
    await session.refresh(outreach)
    return outreach


async def outreach_in(
    session: AsyncSession, organization_id: uuid.UUID, outreach_id: uuid.UUID
) -> Outreach:
    outreach = await session.scalar(
        select(Outreach)
        .join(Bot, Bot.id == Outreach.bot_id)
        .where(Outreach.id == outreach_id, Bot.organization_id == organization_id)
    )
    if outreach is None:
        raise NotFound("no such outreach")
    return outreach


async def progress_of(
    session: AsyncSession, outreach_id: uuid.UUID, failures: int
) -> OutreachProgress:
    """Counts by status, and the first `failures` failed contacts in list order."""
    counts = dict(
        (
            await session.execute(
                select(OutreachContact.status, func.count())
                .where(OutreachContact.outreach_id == outreach_id)
                .group_by(OutreachContact.status)
            )
        ).all()
    )
    failed = await session.scalars(
        select(OutreachContact)
        .where(OutreachContact.outreach_id == outreach_id, OutreachContact.status == "failed")
        .order_by(OutreachContact.position)
        .limit(failures)
    )
    return OutreachProgress(
        total=sum(counts.values()),
        pending=counts.get("pending", 0),
        started=counts.get("started", 0),
        failed=counts.get("failed", 0),
        failures=list(failed),
    )
