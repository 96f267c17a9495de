"""GraphQL for flows: drafts, validation, publishing, versions, diff, roll back, duplicate."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.scalars import JSON
from strawberry.types import Info

from flowlang.validation import validate_flow
from graphql_api.auth import MANAGERS
from graphql_api.graph.bots import optional_object
from graphql_api.graph.context import deadlock_retried, require_caller, transaction
from graphql_api.graph.types import Bot, Flow, FlowDiff, FlowVersion, ValidationProblem
from graphql_api.ids import parse_id
from services.flows import drafts as flow_drafts
from services.tenancy import bot_in, flow_in, version_in


@strawberry.input(description="When a flow starts: `keyword`, `pattern`, `default` or `manual`.")
class TriggerInput:
    type: str = "keyword"
    keywords: list[str] = strawberry.field(default_factory=list)
    pattern: str | None = None


def trigger_dict(trigger: TriggerInput | None) -> dict[str, object] | None:
    if trigger is None:
        return None
    return {"type": trigger.type, "keywords": trigger.keywords, "pattern": trigger.pattern}


@strawberry.input
class FlowInput:
    name: str
    description: str = ""
    definition: JSON | None = strawberry.field(
        default=None, description="Nodes, edges and variables in the seeds' shape."
    )
    trigger: TriggerInput | None = None
    priority: int = 0


@strawberry.input(description="Only the fields given change; the published version is kept.")
class FlowDraftUpdate:
    name: str | None = None
    description: str | None = None
    definition: JSON | None = None
    trigger: TriggerInput | None = None
    priority: int | None = None
    is_active: bool | None = None


@strawberry.type
class FlowQuery:
    @strawberry.field
    async def flow(self, info: Info, id: strawberry.ID) -> Flow:
        caller = await require_caller(info)
        async with transaction(info) as session:
            return Flow.of(await flow_in(session, caller.organization_id, parse_id(id, "flow")))

    @strawberry.field
    async def flow_version(self, info: Info, id: strawberry.ID) -> FlowVersion:
        caller = await require_caller(info)
        async with transaction(info) as session:
            row = await version_in(session, caller.organization_id, parse_id(id, "flow version"))
        return FlowVersion.of(row)

    @strawberry.field(description="The engine's problems with the flow's draft (none: valid).")
    async def validate_flow(self, info: Info, id: strawberry.ID) -> list[ValidationProblem]:
        caller = await require_caller(info)
        async with transaction(info) as session:
            flow = await flow_in(session, caller.organization_id, parse_id(id, "flow"))
        return [ValidationProblem.of(problem) for problem in validate_flow(flow.definition)]

    @strawberry.field(description="Nodes and edges added, removed and changed between versions.")
    async def flow_diff(
        self, info: Info, from_version_id: strawberry.ID, to_version_id: strawberry.ID
    ) -> FlowDiff:
        caller = await require_caller(info)
        async with transaction(info) as session:
            old = await version_in(
                session, caller.organization_id, parse_id(from_version_id, "flow version")
            )
            new = await version_in(
                session, caller.organization_id, parse_id(to_version_id, "flow version")
            )
        return FlowDiff.of(flow_drafts.diff_definitions(old.definition, new.definition))


@strawberry.type
class FlowMutation:
    @strawberry.mutation(description="A new draft flow in a bot (publish it to run it).")
    async def create_flow(self, info: Info, bot_id: strawberry.ID, input: FlowInput) -> Flow:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            bot = await bot_in(session, caller.organization_id, parse_id(bot_id, "bot"))
            row = await flow_drafts.new_flow(
                session,
                bot,
                input.name,
                description=input.description,
                definition=optional_object(input.definition, "definition"),
                trigger=trigger_dict(input.trigger),
                priority=input.priority,
            )
        return Flow.of(row)

    @strawberry.mutation
    async def update_flow_draft(
        self, info: Info, id: strawberry.ID, input: FlowDraftUpdate
    ) -> Flow:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            row = await flow_in(session, caller.organization_id, parse_id(id, "flow"))
            await flow_drafts.update_draft(
                session,
                row,
                name=input.name,
                description=input.description,
                definition=optional_object(input.definition, "definition"),
                trigger=trigger_dict(input.trigger),
                priority=input.priority,
                is_active=input.is_active,
            )
        return Flow.of(row)

    @strawberry.mutation(description="Publish the draft as a new immutable version.")
    async def publish_flow(self, info: Info, id: strawberry.ID, message: str = "") -> FlowVersion:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            row = await flow_in(session, caller.organization_id, parse_id(id, "flow"))
            version = await flow_drafts.publish(session, row, message, caller.user_id)
        return FlowVersion.of(version)

    @strawberry.mutation(description="Publish an earlier version again, as the newest version.")
    async def roll_back_flow(
        self, info: Info, id: strawberry.ID, version_id: strawberry.ID
    ) -> FlowVersion:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            row = await flow_in(session, caller.organization_id, parse_id(id, "flow"))
            old = await version_in(
                session, caller.organization_id, parse_id(version_id, "flow version")
            )
            version = await flow_drafts.roll_back(session, row, old, caller.user_id)
        return FlowVersion.of(version)

    @strawberry.mutation(description="The flow answering when no trigger matches (null: none).")
    async def set_default_flow(
        self, info: Info, bot_id: strawberry.ID, flow_id: strawberry.ID | None
    ) -> Bot:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            bot = await bot_in(session, caller.organization_id, parse_id(bot_id, "bot"))
            flow = (
                await flow_in(session, caller.organization_id, parse_id(flow_id, "flow"))
                if flow_id
                else None
            )
            await flow_drafts.set_default_flow(session, bot, flow)
        return Bot.of(bot)

    @strawberry.mutation(description="A draft copy of the flow in the same bot.")
    async def duplicate_flow(self, info: Info, id: strawberry.ID, name: str | None = None) -> Flow:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            row = await flow_in(session, caller.organization_id, parse_id(id, "flow"))
            copy = await flow_drafts.duplicate_flow(session, row, name)
        return Flow.of(copy)

    @strawberry.mutation(description="Delete a flow with its versions and runs.")
    async def delete_flow(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        caller = await require_caller(info, MANAGERS)
        flow_id = parse_id(id, "flow")

        async def delete(session: AsyncSession) -> None:
            await session.delete(await flow_in(session, caller.organization_id, flow_id))

        await deadlock_retried(info, delete)
        return id
