"""The strawberry GraphQL schema, composed from one Query/Mutation part per module.

To add fields, write `@strawberry.type class XQuery` / `XMutation` / `XSubscription` in your
module and list them in `QUERIES` / `MUTATIONS` / `SUBSCRIPTIONS`. After changing the schema,
regenerate the SDL for review:

    .venv/bin/python -m graphql_api.schema
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import strawberry
from strawberry.tools import merge_types

from graphql_api.accounts import AccountMutation, AccountQuery
from graphql_api.bots import BotMutation, BotQuery
from graphql_api.conversations import ConversationMutation, ConversationQuery
from graphql_api.errors import CodedErrors, LoggingSchema
from graphql_api.flows import FlowMutation, FlowQuery
from graphql_api.limits import MAX_DEPTH, limit_extensions
from graphql_api.node_types import NodeTypeQuery
from graphql_api.outreach import OutreachMutation, OutreachQuery
from graphql_api.subscriptions import ConversationSubscription
from graphql_api.templates import TemplateMutation, TemplateQuery

SDL_PATH = Path(__file__).with_name("schema.graphql")


@strawberry.type
class VersionQuery:
    @strawberry.field(description="The running BotBuilder version.")
    def version(self) -> str:
        return version("botbuilder")


QUERIES: tuple[type, ...] = (VersionQuery, AccountQuery, BotQuery, FlowQuery, TemplateQuery,
                             ConversationQuery, OutreachQuery, NodeTypeQuery)  # fmt: skip
MUTATIONS: tuple[type, ...] = (AccountMutation, BotMutation, FlowMutation, TemplateMutation,
                               ConversationMutation, OutreachMutation)  # fmt: skip
SUBSCRIPTIONS: tuple[type, ...] = (ConversationSubscription,)

Query = merge_types("Query", QUERIES)
Mutation = merge_types("Mutation", MUTATIONS)
Subscription = merge_types("Subscription", SUBSCRIPTIONS) if SUBSCRIPTIONS else None


def build_schema(development: bool, max_depth: int = MAX_DEPTH) -> LoggingSchema:
    """The schema with its protections; introspection only in development."""
    extensions = [*limit_extensions(development, max_depth), CodedErrors]
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
