"""How errors reach GraphQL clients: always a code in `extensions.code` and a human message.

Refusals raised as `models.errors.DomainError` keep their message and details; GraphQL syntax
and validation errors (including the limits) get `GRAPHQL_VALIDATION_FAILED`; anything else is
a bug: the client sees only `INTERNAL_SERVER_ERROR` while the server logs the traceback.
"""

from __future__ import annotations

import re

import strawberry
from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionContext

from models.errors import DomainError

INTERNAL_MESSAGE = "Internal server error; it has been logged."
SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def coded(error: GraphQLError, hide_suggestions: bool = False) -> GraphQLError:
    """The error as the client must see it (without "Did you mean ...?" when hiding them:
    they would spell out the schema where introspection is off)."""
    original = error.original_error
    if isinstance(original, DomainError):
        extensions = {**(error.extensions or {}), "code": original.code, **original.details()}
        message = original.message
    elif original is None:
        extensions = {"code": "GRAPHQL_VALIDATION_FAILED", **(error.extensions or {})}
        message = error.message
    else:
        extensions, message = {"code": "INTERNAL_SERVER_ERROR"}, INTERNAL_MESSAGE
    if hide_suggestions:
        message = SUGGESTION.sub("", message)
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


class CodedErrors(MaskErrors):
    """Rewrites every error of a result with `coded` (no stack trace or internals leak)."""

    def __init__(self, hide_suggestions: bool = False) -> None:
        super().__init__(should_mask_error=lambda _error: True)
        self.hide_suggestions = hide_suggestions

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return coded(error, self.hide_suggestions)


class LoggingSchema(strawberry.Schema):
    """A schema that logs only failures of the server (with their traceback), not refusals
    and invalid documents: a caller's mistake is not a server problem."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        unexpected = [
            error
            for error in errors
            if error.original_error is not None
            and not isinstance(error.original_error, DomainError)
        ]
        super().process_errors(unexpected, execution_context)
