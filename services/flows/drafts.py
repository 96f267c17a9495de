"""Editing flows: drafts, publishing with every problem reported, versions, diff, roll back.

A flow's `definition` is kept in the seeds' shape with its name, description, trigger and
priority in step with the flow's own columns, so a draft exports and runs as it is shown.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flowlang.graph import FlowDefinition, FlowTrigger
from flowlang.validation import ValidationProblem
from models.bot_tables import Bot
from models.errors import InvalidInput, pydantic_problems, refuse
from models.flow_tables import Flow, FlowVersion
from services.bots.management import check_unique_name
from services.bots.publishing import InvalidFlow, create_flow, flow_trigger, publish_flow

EMPTY_DEFINITION: dict[str, Any] = {"nodes": [], "edges": [], "variables": {}}


def checked_trigger(trigger: dict[str, Any]) -> dict[str, Any]:
    try:
        return FlowTrigger.model_validate(trigger).model_dump(mode="json")
    except ValidationError as error:
        raise refuse("invalid trigger", pydantic_problems(error, "trigger")) from None


def draft_definition(
    definition: dict[str, Any],
    *,
    name: str,
    description: str,
    trigger: dict[str, Any],
    priority: int,
) -> dict[str, Any]:
    """The definition in the seeds' shape with these flow fields, or its shape problems."""
    raw = {
        **definition,
        "name": name,
        "description": description,
        "trigger": trigger["type"],
        "keywords": trigger["keywords"],
        "pattern": trigger["pattern"],
        "priority": priority,
    }
    try:
        return FlowDefinition.model_validate(raw).to_json()
    except ValidationError as error:
        raise refuse("the flow definition is malformed", pydantic_problems(error)) from None


def sync_draft(flow: Flow, definition: dict[str, Any] | None = None) -> None:
    """Rewrite the draft's definition so it carries the flow's current fields."""
    flow.definition = draft_definition(
        flow.definition if definition is None else definition,
        name=flow.name,
        description=flow.description,
        trigger=flow.trigger,
        priority=flow.priority,
    )


async def flow_names(session: AsyncSession, bot_id: uuid.UUID) -> set[str]:
    return set(await session.scalars(select(Flow.name).where(Flow.bot_id == bot_id)))


async def check_flow_name(
    session: AsyncSession, bot_id: uuid.UUID, name: str, flow_id: uuid.UUID | None = None
) -> str:
    scope = Flow.bot_id == bot_id
    return await check_unique_name(session, Flow.name, scope, name, flow_id, "flow")


def free_name(wanted: str, taken: set[str], suffix: str) -> str:
    """`wanted`, else `wanted (suffix)`, `wanted (suffix 2)` ... whichever is not taken."""
    if wanted not in taken:
        return wanted
    candidates = (f"{wanted} ({suffix}{'' if n == 1 else f' {n}'})" for n in range(1, 10_000))
    return next(name for name in candidates if name not in taken)


async def new_flow(
    session: AsyncSession,
    bot: Bot,
    name: str,
    *,
    description: str = "",
    definition: dict[str, Any] | None = None,
    trigger: dict[str, Any] | None = None,
    priority: int = 0,
) -> Flow:
    """A draft flow in the bot (not yet published)."""
    name = await check_flow_name(session, bot.id, name)
    definition = definition if definition is not None else EMPTY_DEFINITION
    trigger = checked_trigger(trigger if trigger is not None else flow_trigger(definition))
    draft = draft_definition(
        definition, name=name, description=description, trigger=trigger, priority=priority
    )
    return await create_flow(session, bot.id, draft, name=name, trigger=trigger, priority=priority)


async def update_draft(
    session: AsyncSession,
    flow: Flow,
    *,
    name: str | None = None,
    description: str | None = None,
    definition: dict[str, Any] | None = None,
    trigger: dict[str, Any] | None = None,
    priority: int | None = None,
    is_active: bool | None = None,
) -> Flow:
    """Change the draft; the published version (what runs) is untouched until `publish`."""
    if name is not None:
        flow.name = await check_flow_name(session, flow.bot_id, name, flow.id)
    if description is not None:
        flow.description = description
    if trigger is not None:
        flow.trigger = checked_trigger(trigger)
    if priority is not None:
        flow.priority = priority
    if is_active is not None:
        flow.is_active = is_active
    sync_draft(flow, definition)
    await session.flush()
    await session.refresh(flow)  # loads the new updated_at
    return flow


async def publish(
    session: AsyncSession, flow: Flow, message: str, created_by: uuid.UUID | None
) -> FlowVersion:
    """Publish the draft as a new version, or refuse with every validation problem."""
    try:
        version = await publish_flow(session, flow, message, created_by)
    except InvalidFlow as error:
        raise InvalidInput(
            f"the flow cannot be published: {error}", problems_json(error.problems)
        ) from None
    await session.refresh(flow)  # loads the new updated_at
    return version


def problems_json(problems: list[ValidationProblem]) -> list[dict[str, Any]]:
    return [problem.model_dump(mode="json") for problem in problems]


async def roll_back(
    session: AsyncSession, flow: Flow, version: FlowVersion, created_by: uuid.UUID | None
) -> FlowVersion:
    """Publish an old version again, as a new version (history is never rewritten)."""
    if version.flow_id != flow.id:
        raise InvalidInput("that version belongs to another flow")
    flow.trigger, flow.priority = version.trigger, version.priority
    sync_draft(flow, version.definition)
    return await publish(session, flow, f"Roll back to version {version.version}", created_by)


async def duplicate_flow(session: AsyncSession, flow: Flow, name: str | None = None) -> Flow:
    """A draft copy of the flow's draft in the same bot."""
    taken = await flow_names(session, flow.bot_id)
    name = await check_flow_name(session, flow.bot_id, name) if name else None
    copy = Flow(
        bot_id=flow.bot_id,
        name=name or free_name(flow.name, taken, "copy"),
        description=flow.description,
        trigger=flow.trigger,
        priority=flow.priority,
        definition=flow.definition,
    )
    sync_draft(copy)
    session.add(copy)
    await session.flush()
    return copy


async def set_default_flow(session: AsyncSession, bot: Bot, flow: Flow | None) -> Bot:
    """The flow answering when no trigger matches (None: no default)."""
    if flow is not None and flow.bot_id != bot.id:
        raise InvalidInput("that flow belongs to another bot")
    bot.default_flow_id = flow.id if flow else None
    await session.flush()
    await session.refresh(bot)
    return bot


@dataclass
class FlowDiff:
    nodes_added: list[str] = field(default_factory=list)
    nodes_removed: list[str] = field(default_factory=list)
    nodes_changed: dict[str, list[str]] = field(default_factory=dict)  # node id -> fields
    edges_added: list[str] = field(default_factory=list)
    edges_removed: list[str] = field(default_factory=list)
    edges_changed: list[str] = field(default_factory=list)
    settings_changed: list[str] = field(default_factory=list)  # trigger, variables ...


def diff_definitions(old: dict[str, Any], new: dict[str, Any]) -> FlowDiff:
    """What changed from `old` to `new`: nodes and edges by id, and the flow's own fields."""
    diff = FlowDiff()
    old_nodes, new_nodes = _by_id(old.get("nodes")), _by_id(new.get("nodes"))
    diff.nodes_added = [i for i in new_nodes if i not in old_nodes]
    diff.nodes_removed = [i for i in old_nodes if i not in new_nodes]
    for node_id in (i for i in new_nodes if i in old_nodes):
        fields = sorted(
            key
            for key in {*old_nodes[node_id], *new_nodes[node_id]}
            if old_nodes[node_id].get(key) != new_nodes[node_id].get(key)
        )
        if fields:
            diff.nodes_changed[node_id] = fields
    old_edges, new_edges = _by_id(old.get("edges")), _by_id(new.get("edges"))
    diff.edges_added = [i for i in new_edges if i not in old_edges]
    diff.edges_removed = [i for i in old_edges if i not in new_edges]
    diff.edges_changed = [i for i in new_edges if i in old_edges and new_edges[i] != old_edges[i]]
    own_fields = {*old, *new} - {"nodes", "edges"}
    diff.settings_changed = sorted(key for key in own_fields if old.get(key) != new.get(key))
    return diff


def _by_id(items: Any) -> dict[str, dict[str, Any]]:
    return {str(item.get("id")): item for item in items or [] if isinstance(item, dict)}
