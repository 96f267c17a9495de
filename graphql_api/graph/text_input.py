"""Every text a GraphQL request carries is checked once, before anything runs: a NUL character
or an unpaired surrogate (neither can be stored in PostgreSQL nor sent to a channel) is refused
with `BAD_USER_INPUT`, in literals and in variables alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, StringValueNode, ValidationContext, ValidationRule
from strawberry.extensions import SchemaExtension

from models.text import PROBLEM, UNSTORABLE, unstorable_path


def refusal(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})


class StorableText(SchemaExtension):
    """Adds the check to the request's validation (it needs the request's variables)."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        variables = context.variables or {}

        class TextRule(ValidationRule):
            def __init__(self, validation: ValidationContext) -> None:
                super().__init__(validation)
                for name, value in variables.items():
                    if found := unstorable_path(value, f"${name}"):
                        validation.report_error(refusal(f"the variable `{found}` {PROBLEM}"))

            def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
                if UNSTORABLE.search(node.value):
                    self.report_error(refusal(f"a text in the query {PROBLEM}"))

        context.validation_rules = (*context.validation_rules, TextRule)
        yield
