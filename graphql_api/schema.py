"""The strawberry GraphQL schema."""

from __future__ import annotations

from importlib.metadata import version

import strawberry


@strawberry.type
class Query:
    @strawberry.field(description="The running BotBuilder version.")
    def version(self) -> str:
        return version("botbuilder")


schema = strawberry.Schema(query=Query)
