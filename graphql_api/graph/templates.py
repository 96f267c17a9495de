"""GraphQL for flow templates: list and filter, start a flow from one, save a flow as one."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graphql_api.auth import MANAGERS
from graphql_api.graph.context import require_caller, transaction
from graphql_api.graph.types import Flow
from graphql_api.ids import parse_id
from services.flows import templates as flow_templates
from services.tenancy import bot_in, flow_in


@strawberry.type(description="A ready-made flow: built in (id = slug) or your organization's.")
class FlowTemplate:
    id: strawberry.ID
    name: str
    category: str
    difficulty: str
    description: str
    built_in: bool
    definition: JSON
    node_count: int

    @classmethod
    def of(cls, template: flow_templates.Template) -> FlowTemplate:
        return cls(
            id=strawberry.ID(template.id),
            name=template.name,
            category=template.category,
            difficulty=template.difficulty,
            description=template.description,
            built_in=template.built_in,
            definition=template.definition,
            node_count=len(template.definition.get("nodes") or []),
        )


@strawberry.input
class TemplateCustomization:
    name: str | None = None
    description: str | None = None
    keywords: list[str] = strawberry.field(
        default_factory=list, description="The new flow starts on these (none: manual start)."
    )


@strawberry.type
class TemplateQuery:
    @strawberry.field(description="Templates, filtered by category, difficulty or a search text.")
    async def templates(
        self,
        info: Info,
        category: str | None = None,
        difficulty: str | None = None,
        search: str | None = None,
    ) -> list[FlowTemplate]:
        caller = await require_caller(info)
        async with transaction(info) as session:
            found = await flow_templates.list_templates(
                session, caller.organization_id, category, difficulty, search
            )
        return [FlowTemplate.of(template) for template in found]

    @strawberry.field
    async def template(self, info: Info, id: strawberry.ID) -> FlowTemplate:
        caller = await require_caller(info)
        async with transaction(info) as session:
            found = await flow_templates.template_in(session, caller.organization_id, str(id))
        return FlowTemplate.of(found)


@strawberry.type
class TemplateMutation:
    @strawberry.mutation(description="A new draft flow in the bot, copied from a template.")
    async def create_flow_from_template(
        self,
        info: Info,
        bot_id: strawberry.ID,
        template_id: strawberry.ID,
        customizations: TemplateCustomization | None = None,
    ) -> Flow:
        caller = await require_caller(info, MANAGERS)
        custom = customizations or TemplateCustomization()
        async with transaction(info) as session:
            bot = await bot_in(session, caller.organization_id, parse_id(bot_id, "bot"))
            template = await flow_templates.template_in(
                session, caller.organization_id, str(template_id)
            )
            row = await flow_templates.flow_from_template(
                session,
                bot,
                template,
                name=custom.name,
                description=custom.description,
                keywords=custom.keywords,
            )
        return Flow.of(row)

    @strawberry.mutation(description="Keep a flow's draft as a private template.")
    async def save_flow_as_template(
        self,
        info: Info,
        flow_id: strawberry.ID,
        name: str | None = None,
        description: str | None = None,
        category: str = "custom",
        difficulty: str = "beginner",
    ) -> FlowTemplate:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            flow = await flow_in(session, caller.organization_id, parse_id(flow_id, "flow"))
            saved = await flow_templates.save_as_template(
                session,
                flow,
                caller.organization_id,
                name=name,
                description=description,
                category=category,
                difficulty=difficulty,
                created_by=caller.user_id,
            )
        return FlowTemplate.of(saved)

    @strawberry.mutation(description="Delete one of your organization's templates.")
    async def delete_template(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            await flow_templates.delete_template(session, caller.organization_id, str(id))
        return id
