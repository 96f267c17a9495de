"""`botbuilder conversation CONTACT [--bot NAME]`: a contact's conversations as an operator needs
them: state, what the workflows are doing now, the last messages, the runs, Temporal UI links."""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client

from models.bot_tables import Bot, Channel
from models.conversation_tables import Contact, Conversation, FlowRun, Message
from models.db import make_engine, make_session_factory
from models.flow_tables import Flow, FlowVersion
from models.settings import Settings
from services.conversations.outreach import normalize_contact
from workflows.client import connect_temporal
from workflows.run_client import hosting_workflow, run_page

TEMPORAL_TIMEOUT = timedelta(seconds=3)
TEXT_SHOWN = 70
RUNS_SHOWN = 5


def contact_ids(contact: str) -> set[str]:
    """The ids a contact may be stored under: as typed, and as each channel writes a phone."""
    forms = {contact.strip()}
    forms |= {normalize_contact(kind, contact) for kind in ("whatsapp_cloud", "twilio")}
    return forms


async def find_conversations(
    session: AsyncSession, contact: str, bot: str | None
) -> list[tuple[Conversation, Contact, Bot, Channel]]:
    """The contact's conversations (by channel address or contact id), most recent first."""
    match = Contact.external_id.in_(contact_ids(contact))
    try:
        match = or_(match, Contact.id == uuid.UUID(contact))
    except ValueError:
        pass
    query = (
        select(Conversation, Contact, Bot, Channel)
        .join(Contact, Contact.id == Conversation.contact_id)
        .join(Bot, Bot.id == Conversation.bot_id)
        .join(Channel, Channel.id == Conversation.channel_id)
        .where(match)
        .order_by(Conversation.last_message_at.desc().nulls_last())
    )
    if bot is not None:
        query = query.where(Bot.name == bot)
    return [tuple(row) for row in (await session.execute(query)).all()]  # type: ignore[misc]


async def current_details(client: Client | None, workflow_id: str) -> str:
    """What the workflow says it is doing (its current details), or why that is unknown."""
    if client is None:
        return "unknown (Temporal is unreachable)"
    try:
        handle = client.get_workflow_handle(workflow_id)
        metadata = await handle.query(
            "__temporal_workflow_metadata",
            result_type=WorkflowMetadata,
            rpc_timeout=TEMPORAL_TIMEOUT,
        )
    except Exception as err:
        return f"unknown ({str(err).splitlines()[0] if str(err) else type(err).__name__})"
    return metadata.current_details or "(no details)"


def clock(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if at else "-"


def message_line(message: Message) -> str:
    arrow = "→" if message.direction == "outbound" else "←"
    text = " ".join((message.text or f"[{message.type}]").split())
    text = text if len(text) <= TEXT_SHOWN else text[: TEXT_SHOWN - 1] + "…"
    status = f"  [{message.status}]" if message.direction == "outbound" else ""
    return f"    {clock(message.created_at)} {arrow} {text}{status}"


async def describe(
    session: AsyncSession,
    client: Client | None,
    settings: Settings,
    count: int,
    conversation: Conversation,
    contact: Contact,
    bot: Bot,
    channel: Channel,
) -> list[str]:
    """The lines printed for one conversation."""
    name = f" ({contact.name})" if contact.name else ""
    agent = " — an agent has it" if conversation.assigned_user_id else ""
    last = clock(conversation.last_message_at)
    lines = [
        f"Conversation with {contact.external_id}{name} · bot “{bot.name}” · "
        f"{channel.kind} channel “{channel.name}”",
        f"  State:    {conversation.status}{agent}; last message {last}",
        f"  Now:      {await current_details(client, conversation.workflow_id)}",
        f"  Temporal: {settings.temporal_workflows_url(conversation.workflow_id)}",
        f"  Last {count} messages (← from the contact, → to the contact):",
    ]
    messages = list(
        await session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id)
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(count)
        )
    )
    lines += [message_line(message) for message in reversed(messages)] or ["    (none)"]
    runs = (
        await session.execute(
            select(FlowRun, Flow.name, FlowVersion.version)
            .join(Flow, Flow.id == FlowRun.flow_id)
            .join(FlowVersion, FlowVersion.id == FlowRun.flow_version_id)
            .where(FlowRun.conversation_id == conversation.id)
            .order_by(FlowRun.started_at.desc())
            .limit(RUNS_SHOWN)
        )
    ).all()
    lines.append(f"  Flow runs (newest first, at most {RUNS_SHOWN}):")
    for run, flow_name, version in runs:
        where = f", last step `{run.current_node_id}`" if run.current_node_id else ""
        error = f": {run.error.get('message')}" if run.error else ""
        started = clock(run.started_at)
        lines.append(
            f"    “{flow_name}” v{version} · {run.status}{where}{error} · started {started}"
        )
        if run.status == "running":
            workflow_id, _ = hosting_workflow(run.workflow_id)
            lines.append(f"      now: {await current_details(client, workflow_id)}")
        lines.append(f"      {run_page(settings, run.workflow_id)}")
    if not runs:
        lines.append("    (none)")
    return lines


async def show_conversation(
    settings: Settings, database_url: str, contact: str, bot: str | None, count: int = 10
) -> int:
    """Print the contact's conversations; 1 when there is none."""
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as session:
            found = await find_conversations(session, contact, bot)
            if not found:
                where = f" with bot {bot!r}" if bot else ""
                print(f"error: no conversation with contact {contact!r}{where}", file=sys.stderr)
                return 1
            try:
                client: Client | None = await asyncio.wait_for(
                    connect_temporal(settings), TEMPORAL_TIMEOUT.total_seconds()
                )
            except Exception:
                client = None
            blocks = [await describe(session, client, settings, count, *row) for row in found]
    finally:
        await engine.dispose()
    addresses = sorted({row[1].external_id for row in found})
    query = " OR ".join(f"ContactId = '{address}'" for address in addresses)
    print("\n\n".join("\n".join(block) for block in blocks))
    print(f"\nEvery workflow of this contact: {settings.temporal_workflows_url(query=query)}")
    return 0
