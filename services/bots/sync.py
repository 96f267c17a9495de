"""Apply a bots-as-code file: bring one bot, its channels and flows to the file's state.

`apply_bot` runs inside the caller's transaction: the caller commits it, or rolls it back for a
dry run, so a dry run reports exactly what an apply would do. Objects are matched by name (the
organization by slug); nothing absent from the file is deleted. A flow gets a new published
version only when its definition, trigger or priority differ from the published one, so a
second apply of the same file writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.bot_tables import Bot, Channel
from models.flow_tables import Flow, FlowVersion
from models.secret_box import SecretBox, SecretBoxError
from models.tenancy_tables import Organization
from services.bots.file import (
    ENTRY_FIELDS,
    DesiredBot,
    DesiredChannel,
    DesiredFlow,
    canonical_definition,
    normal_config,
    with_entry_fields,
)
from services.bots.publishing import (
    add_channel,
    create_bot,
    create_flow,
    create_organization,
    publish_flow,
)

Row = TypeVar("Row", Channel, Flow)
LABELS = {
    "secret_env": "secret variable names",
    "default_flow_id": "default flow",
    "sensitive_data": "sensitive data",
}


@dataclass
class Step:
    """What apply did to one object: created, updated (with what changed) or unchanged."""

    kind: str
    name: str
    action: Literal["created", "updated", "unchanged"] = "unchanged"
    changes: list[str] = field(default_factory=list)
    published: int | None = None

    def note(self, *changes: str) -> None:
        if self.action != "created":
            self.action = "updated"
            self.changes.extend(changes)

    def __str__(self) -> str:
        text = self.action + (f" ({', '.join(self.changes)})" if self.changes else "")
        if self.published is not None:
            text = (
                f"published v{self.published}"
                if self.action == "unchanged"
                else (f"{text}, published v{self.published}")
            )
        return f"{self.kind} {self.name}: {text}"


@dataclass(frozen=True)
class AppliedChannel:
    name: str
    kind: str
    id: uuid.UUID
    created: bool


@dataclass
class ApplyReport:
    steps: list[Step]
    channels: list[AppliedChannel]

    @property
    def changed(self) -> bool:
        return any(step.action != "unchanged" or step.published for step in self.steps)


async def apply_bot(
    session: AsyncSession, desired: DesiredBot, box: SecretBox, message: str = ""
) -> ApplyReport:
    """Create or update the organization, bot, channels and flows; publish changed flows."""
    organization = await session.scalar(
        select(Organization).where(Organization.slug == desired.organization)
    )
    steps = [Step("organization", desired.organization)]
    if organization is None:
        organization = await create_organization(
            session, desired.organization, desired.organization
        )
        steps[0].action = "created"
    bot, bot_step = await _sync_bot(session, organization.id, desired)
    steps.append(bot_step)

    existing_channels = await _by_name(session, Channel, bot.id)
    channels = []
    for wanted in desired.channels:
        channel, step = await _sync_channel(
            session, bot.id, existing_channels.get(wanted.name), wanted, box
        )
        steps.append(step)
        channels.append(
            AppliedChannel(wanted.name, wanted.kind, channel.id, step.action == "created")
        )

    existing_flows = await _by_name(session, Flow, bot.id)
    flow_ids = {}
    for wanted in desired.flows:
        flow, step = await _sync_flow(
            session, bot.id, existing_flows.get(wanted.name), wanted, message
        )
        steps.append(step)
        flow_ids[wanted.name] = flow.id
    default_id = flow_ids[desired.default_flow] if desired.default_flow else None
    _update(bot, bot_step, default_flow_id=default_id)
    await session.flush()
    return ApplyReport(steps, channels)


async def _sync_bot(
    session: AsyncSession, organization_id: uuid.UUID, desired: DesiredBot
) -> tuple[Bot, Step]:
    bot = await session.scalar(
        select(Bot).where(Bot.organization_id == organization_id, Bot.name == desired.name)
    )
    if bot is None:
        bot = await create_bot(
            session,
            organization_id,
            desired.name,
            settings=desired.settings,
            description=desired.description,
            sensitive_data=desired.sensitive_data,
        )
        return bot, Step("bot", desired.name, "created")
    step = Step("bot", desired.name)
    wanted = {"settings": desired.settings, "sensitive_data": desired.sensitive_data}
    _update(bot, step, description=desired.description, **wanted)
    return bot, step


async def _sync_channel(
    session: AsyncSession,
    bot_id: uuid.UUID,
    channel: Channel | None,
    wanted: DesiredChannel,
    box: SecretBox,
) -> tuple[Channel, Step]:
    sealed = box.encrypt(wanted.secrets) if wanted.secrets else None
    step = Step("channel", f"{wanted.name} ({wanted.kind})")
    if channel is None:
        channel = await add_channel(
            session, bot_id, wanted.kind, wanted.name, wanted.config, sealed
        )
        channel.secret_env = wanted.secret_env
        step.action = "created"
        return channel, step
    config = channel.config if _same_config(channel, wanted) else wanted.config
    _update(channel, step, kind=wanted.kind, config=config, secret_env=wanted.secret_env)
    if _open(box, channel.secrets_encrypted) != wanted.secrets:
        channel.secrets_encrypted = sealed
        step.note("secrets updated")
    return channel, step


def _same_config(channel: Channel, wanted: DesiredChannel) -> bool:
    """Whether the stored config means the same as the file's (unset optionals aside)."""
    try:
        return channel.kind == wanted.kind and normal_config(channel.kind, channel.config) == (
            wanted.config
        )
    except ValidationError:
        return False


def _open(box: SecretBox, sealed: str | None) -> dict[str, Any] | None:
    """The stored secrets ({} when none); None when they cannot be decrypted (so: replaced)."""
    if not sealed:
        return {}
    try:
        return box.decrypt(sealed)
    except SecretBoxError:
        return None


async def _sync_flow(
    session: AsyncSession,
    bot_id: uuid.UUID,
    flow: Flow | None,
    wanted: DesiredFlow,
    message: str,
) -> tuple[Flow, Step]:
    step = Step("flow", wanted.name)
    if flow is None:
        flow = await create_flow(
            session,
            bot_id,
            wanted.definition,
            name=wanted.name,
            trigger=wanted.trigger,
            priority=wanted.priority,
        )
        step.action = "created"
    else:
        draft = stored_definition(
            flow.definition, flow.name, flow.trigger, flow.priority, description=flow.description
        )
        if differences := flow_differences(draft, wanted.definition):
            flow.definition, flow.trigger = wanted.definition, wanted.trigger
            flow.priority, flow.description = wanted.priority, wanted.description
            step.note(*differences)
    published = await _published(session, flow)
    if published != wanted.definition:
        step.published = (await publish_flow(session, flow, message)).version
    return flow, step


async def _published(session: AsyncSession, flow: Flow) -> dict[str, Any] | None:
    """The canonical definition of the flow's published version, None if it has none."""
    if flow.published_version_id is None:
        return None
    version = await session.get(FlowVersion, flow.published_version_id)
    if version is None:
        return None
    return stored_definition(version.definition, flow.name, version.trigger, version.priority)


def stored_definition(
    definition: Mapping[str, Any],
    name: str,
    trigger: Mapping[str, Any],
    priority: int,
    description: str | None = None,
) -> dict[str, Any] | None:
    """A stored definition with its row's trigger and priority, in canonical form.

    None when it no longer parses (it then counts as different from any file).
    """
    merged = with_entry_fields(
        definition, name=name, description=description, trigger=trigger, priority=priority
    )
    try:
        return canonical_definition(merged)
    except ValidationError:
        return None


def flow_differences(current: dict[str, Any] | None, wanted: dict[str, Any]) -> list[str]:
    """What differs between two canonical definitions: definition, description, trigger ..."""
    if current is None:
        return ["definition"]
    parts = {
        "definition": [key for key in wanted.keys() | current.keys() if key not in ENTRY_FIELDS],
        "description": ["description"],
        "trigger": ["trigger", "keywords", "pattern"],
        "priority": ["priority"],
    }
    return [
        label
        for label, keys in parts.items()
        if any(current.get(key) != wanted.get(key) for key in keys)
    ]


def _update(row: Any, step: Step, **values: Any) -> None:
    """Set each attribute of `row` that differs from `values`, noting it on `step`."""
    for attribute, value in values.items():
        if getattr(row, attribute) != value:
            setattr(row, attribute, value)
            step.note(LABELS.get(attribute, attribute))


async def _by_name(session: AsyncSession, table: type[Row], bot_id: uuid.UUID) -> dict[str, Row]:
    """The bot's rows of `table` by name (the oldest when a name repeats)."""
    rows = await session.scalars(
        select(table).where(table.bot_id == bot_id).order_by(table.created_at.desc())
    )
    return {row.name: row for row in rows}
