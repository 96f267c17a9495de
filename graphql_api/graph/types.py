"""GraphQL object types for bots, channels, flows and versions, built from table rows."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from channels.config import webhook_urls
from flowlang.validation import ValidationProblem as ValidationProblemData
from graphql_api.graph.context import ContextInfo
from models import bot_tables, flow_tables
from services.flows.drafts import FlowDiff as FlowDiffData


def gid(value: uuid.UUID) -> strawberry.ID:
    return strawberry.ID(str(value))


@strawberry.enum
class ChannelKind(Enum):
    WHATSAPP_CLOUD = "whatsapp_cloud"
    TWILIO = "twilio"
    WEB = "web"


@strawberry.type(description="A URL to configure at the provider, by purpose.")
class WebhookUrl:
    purpose: str
    url: str


@strawberry.type(description="Where a bot talks. Secrets are write-only: never returned.")
class Channel:
    id: strawberry.ID
    bot_id: strawberry.ID
    kind: ChannelKind
    name: str
    config: JSON
    is_active: bool
    has_secrets: bool
    created_at: datetime
    webhook_urls: list[WebhookUrl]

    @classmethod
    def of(cls, row: bot_tables.Channel, public_url: str) -> Channel:
        urls = webhook_urls(public_url, row.kind, str(row.id))
        return cls(
            id=gid(row.id),
            bot_id=gid(row.bot_id),
            kind=ChannelKind(row.kind),
            name=row.name,
            config=row.config,
            is_active=row.is_active,
            has_secrets=row.secrets_encrypted is not None,
            created_at=row.created_at,
            webhook_urls=[WebhookUrl(purpose=purpose, url=url) for purpose, url in urls.items()],
        )


@strawberry.type(description="A published, immutable snapshot of a flow.")
class FlowVersion:
    id: strawberry.ID
    flow_id: strawberry.ID
    version: int
    message: str
    definition: JSON
    trigger: JSON
    priority: int
    created_by: strawberry.ID | None
    created_at: datetime

    @classmethod
    def of(cls, row: flow_tables.FlowVersion) -> FlowVersion:
        return cls(
            id=gid(row.id),
            flow_id=gid(row.flow_id),
            version=row.version,
            message=row.message,
            definition=row.definition,
            trigger=row.trigger,
            priority=row.priority,
            created_by=gid(row.created_by) if row.created_by else None,
            created_at=row.created_at,
        )


@strawberry.type(description="A flow: its editable draft and the version new runs use.")
class Flow:
    id: strawberry.ID
    bot_id: strawberry.ID
    name: str
    description: str
    trigger: JSON
    definition: JSON = strawberry.field(description="The draft, in the seeds' shape.")
    priority: int
    is_active: bool
    published_version_id: strawberry.ID | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: flow_tables.Flow) -> Flow:
        published = row.published_version_id
        return cls(
            id=gid(row.id),
            bot_id=gid(row.bot_id),
            name=row.name,
            description=row.description,
            trigger=row.trigger,
            definition=row.definition,
            priority=row.priority,
            is_active=row.is_active,
            published_version_id=gid(published) if published else None,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field(description="Published versions, newest first.")
    async def versions(self, info: ContextInfo) -> list[FlowVersion]:
        rows = await info.context.loaders.versions_of_flow.load(uuid.UUID(self.id))
        return [FlowVersion.of(row) for row in rows]


@strawberry.type
class Bot:
    id: strawberry.ID
    name: str
    description: str
    settings: JSON
    sensitive_data: bool = strawberry.field(
        description="No message text in the Temporal UI's summaries of this bot's runs."
    )
    default_flow_id: strawberry.ID | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: bot_tables.Bot) -> Bot:
        default = row.default_flow_id
        return cls(
            id=gid(row.id),
            name=row.name,
            description=row.description,
            settings=row.settings,
            sensitive_data=row.sensitive_data,
            default_flow_id=gid(default) if default else None,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field
    async def channels(self, info: ContextInfo) -> list[Channel]:
        public_url = info.context.platform.settings.resolved_public_url()
        rows = await info.context.loaders.channels_of_bot.load(uuid.UUID(self.id))
        return [Channel.of(row, public_url) for row in rows]

    @strawberry.field
    async def flows(self, info: ContextInfo) -> list[Flow]:
        rows = await info.context.loaders.flows_of_bot.load(uuid.UUID(self.id))
        return [Flow.of(row) for row in rows]


@strawberry.type(description="A reason a flow cannot run, with the node or edge at fault.")
class ValidationProblem:
    code: str
    message: str
    node_id: str | None
    edge_id: str | None

    @classmethod
    def of(cls, problem: ValidationProblemData) -> ValidationProblem:
        return cls(
            code=problem.code,
            message=problem.message,
            node_id=problem.node_id,
            edge_id=problem.edge_id,
        )


@strawberry.type
class NodeChange:
    node_id: str
    fields: list[str] = strawberry.field(description="What differs: type, data, position ...")


@strawberry.type(description="What changed between two versions of a flow.")
class FlowDiff:
    nodes_added: list[str]
    nodes_removed: list[str]
    nodes_changed: list[NodeChange]
    edges_added: list[str]
    edges_removed: list[str]
    edges_changed: list[str]
    settings_changed: list[str] = strawberry.field(
        description="Flow fields that differ: trigger, keywords, variables, name ..."
    )

    @classmethod
    def of(cls, diff: FlowDiffData) -> FlowDiff:
        return cls(
            nodes_added=diff.nodes_added,
            nodes_removed=diff.nodes_removed,
            nodes_changed=[
                NodeChange(node_id=node, fields=fields)
                for node, fields in diff.nodes_changed.items()
            ],
            edges_added=diff.edges_added,
            edges_removed=diff.edges_removed,
            edges_changed=diff.edges_changed,
            settings_changed=diff.settings_changed,
        )
