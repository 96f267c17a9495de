"""The strawberry GraphQL schema, composed from one Query/Mutation part per module.

To add fields, write `@strawberry.type class XQuery` / `XMutation` / `XSubscription` in your
module and list them in `QUERIES` / `MUTATIONS` / `SUBSCRIPTIONS`. After changing the schema,
regenerate the SDL for review:

    .venv/bin/python -m graphql_api.schema
"""

from __future__ import annotations

from functools import partial
from importlib.metadata import version
from pathlib import Path

import strawberry
from strawberry.tools import merge_types

from graphql_api.graph.accounts import AccountMutation, AccountQuery
from graphql_api.graph.analytics import AnalyticsQuery
from graphql_api.graph.bots import BotMutation, BotQuery
from graphql_api.graph.context import RequestSnapshot
from graphql_api.graph.conversations import ConversationMutation, ConversationQuery
from graphql_api.graph.errors import CodedErrors, LoggingSchema
from graphql_api.graph.flows import FlowMutation, FlowQuery
from graphql_api.graph.integrations import IntegrationMutation, IntegrationQuery
from graphql_api.graph.limits import MAX_DEPTH, limit_extensions
from graphql_api.graph.marketplace import MarketplaceMutation, MarketplaceQuery
from graphql_api.graph.marketplace_analytics import MarketplaceAnalyticsQuery
from graphql_api.graph.marketplace_sales import MarketplaceSalesMutation, MarketplaceSalesQuery
from graphql_api.graph.node_types import NodeTypeQuery
from graphql_api.graph.outreach import OutreachMutation, OutreachQuery
from graphql_api.graph.payments import PaymentQuery
from graphql_api.graph.query_cost import MAX_COST, QueryCostLimiter
from graphql_api.graph.subscriptions import ConversationSubscription
from graphql_api.graph.templates import TemplateMutation, TemplateQuery
from graphql_api.graph.text_input import StorableText
from graphql_api.graph.trigger_secrets import TriggerSecretMutation, TriggerSecretQuery
from graphql_api.graph.webhooks import WebhookMutation, WebhookQuery

SDL_PATH = Path(__file__).with_name("schema.graphql")


@strawberry.type
class VersionQuery:
    @strawberry.field(description="The running BotBuilder version.")
    def version(self) -> str:
        return version("botbuilder")


QUERIES: tuple[type, ...] = (
    VersionQuery,
    AccountQuery,
    BotQuery,
    FlowQuery,
    TemplateQuery,
    ConversationQuery,
    OutreachQuery,
    IntegrationQuery,
    PaymentQuery,
    WebhookQuery,
    AnalyticsQuery,
    NodeTypeQuery,
    MarketplaceQuery,
    MarketplaceSalesQuery,
    MarketplaceAnalyticsQuery,
    TriggerSecretQuery,
)
MUTATIONS: tuple[type, ...] = (
    AccountMutation,
    BotMutation,
    FlowMutation,
    TemplateMutation,
    ConversationMutation,
    OutreachMutation,
    IntegrationMutation,
    WebhookMutation,
    MarketplaceMutation,
    MarketplaceSalesMutation,
    TriggerSecretMutation,
)
SUBSCRIPTIONS: tuple[type, ...] = (ConversationSubscription,)

Query = merge_types("Query", QUERIES)
Mutation = merge_types("Mutation", MUTATIONS)
Subscription = merge_types("Subscription", SUBSCRIPTIONS) if SUBSCRIPTIONS else None


def build_schema(
    development: bool,
    max_depth: int = MAX_DEPTH,
    max_cost: int = MAX_COST,
    hide_suggestions: bool = False,
) -> LoggingSchema:
    """The schema with its protections; introspection only in development, and no "Did you
    mean ...?" hints in error messages with `hide_suggestions` (production)."""
    extensions = [
        *limit_extensions(development, max_depth),
        partial(QueryCostLimiter, max_cost),
        StorableText,
        RequestSnapshot,
        partial(CodedErrors, hide_suggestions=hide_suggestions),
    ]
    return LoggingSchema(
        query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions
    )


schema = build_schema(development=True)


def write_sdl() -> None:
    """Write the SDL next to this module, so schema changes show in review."""
    SDL_PATH.write_text(schema.as_str() + "\n")


if __name__ == "__main__":
    write_sdl()
    print(f"wrote {SDL_PATH}")
