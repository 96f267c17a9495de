"""Creating bots and publishing flows: the writes shared by the API, the CLI and the demo."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flowlang.validation import ValidationProblem, validate_flow
from models.bot_tables import Bot, Channel
from models.flow_tables import Flow, FlowVersion
from models.tenancy_tables import Organization
from services.webhooks import outbox as webhook_outbox


class InvalidFlow(ValueError):
    """A flow that cannot be published; `problems` lists every reason with its node or edge."""

    def __init__(self, problems: list[ValidationProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(problem.message for problem in problems))


async def create_organization(session: AsyncSession, name: str, slug: str) -> Organization:
    organization = Organization(name=name, slug=slug)
    session.add(organization)
    await session.flush()
    return organization


async def create_bot(
    session: AsyncSession,
    organization_id: uuid.UUID,
    name: str,
    settings: dict[str, Any] | None = None,
    description: str = "",
    sensitive_data: bool = False,
) -> Bot:
    bot = Bot(
        organization_id=organization_id,
        name=name,
        description=description,
        settings=settings or {},
        sensitive_data=sensitive_data,
    )
    session.add(bot)
    await session.flush()
    return bot


async def add_channel(
    session: AsyncSession,
    bot_id: uuid.UUID,
    kind: str,
    name: str,
    config: dict[str, Any] | None = None,
    secrets_encrypted: str | None = None,
) -> Channel:
    channel = Channel(
        bot_id=bot_id,
        kind=kind,
        name=name,
        config=config or {},
        secrets_encrypted=secrets_encrypted,
    )
    session.add(channel)
    await session.flush()
    await webhook_outbox.channel_event(session, channel)
    return channel


async def create_flow(
    session: AsyncSession,
    bot_id: uuid.UUID,
    definition: dict[str, Any],
    *,
    name: str | None = None,
    trigger: dict[str, Any] | None = None,
    priority: int = 0,
) -> Flow:
    """A draft flow from a definition in the seeds' shape (nodes, edges, variables ...)."""
    flow = Flow(
        bot_id=bot_id,
        name=name or definition.get("name") or "Untitled flow",
        description=definition.get("description") or "",
        trigger=trigger or flow_trigger(definition),
        definition=definition,
        priority=priority or int(definition.get("priority") or 0),
    )
    session.add(flow)
    await session.flush()
    return flow


def flow_trigger(definition: dict[str, Any]) -> dict[str, Any]:
    """The trigger of a definition, accepting the seeds' top-level trigger/keywords/pattern."""
    trigger = definition.get("trigger")
    if isinstance(trigger, dict):
        return trigger
    return {
        "type": trigger or ("keyword" if definition.get("keywords") else "manual"),
        "keywords": definition.get("keywords") or [],
        "pattern": definition.get("pattern"),
    }


async def publish_flow(
    session: AsyncSession, flow: Flow, message: str = "", created_by: uuid.UUID | None = None
) -> FlowVersion:
    """Freeze the draft as the next immutable version and make it the one new runs use.

    Raises `InvalidFlow` (and writes nothing) when the draft does not validate.
    """
    problems = validate_flow(flow.definition)
    if problems:
        raise InvalidFlow(problems)
    latest = await session.scalar(
        select(func.max(FlowVersion.version)).where(FlowVersion.flow_id == flow.id)
    )
    version = FlowVersion(
        flow_id=flow.id,
        version=(latest or 0) + 1,
        definition=flow.definition,
        trigger=flow.trigger,
        priority=flow.priority,
        message=message,
        created_by=created_by,
    )
    session.add(version)
    await session.flush()
    flow.published_version_id = version.id
    await session.flush()
    return version
