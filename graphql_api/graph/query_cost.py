"""The estimated cost of a GraphQL operation, refused before it runs when over the limit.

Each object a query asks for costs 1, scalars nothing; a list multiplies the cost of what it
holds by its page size (`first`, or `DEFAULT_LIST_SIZE` for lists without one); a few fields
cost more because of the work behind them (`FIELD_COSTS`: `position` asks a workflow live).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInt,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
    get_nullable_type,
    value_from_ast,
)
from strawberry.extensions import SchemaExtension

from graphql_api.graph.limits import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

MAX_COST = 10_000
DEFAULT_LIST_SIZE = 10
FIELD_COSTS = {"position": 50, "definition": 5}


class QueryCost:
    """Walks one document with the request's variables."""

    def __init__(self, schema: GraphQLSchema, document: Any, variables: dict[str, Any]) -> None:
        self.schema, self.variables = schema, variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.fragment_costs: dict[str, int] = {}

    def operation(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(operation.operation)
        return self.selections(operation.selection_set, root, frozenset()) if root else 0

    def selections(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType,
        seen: frozenset[str],
    ) -> int:
        if selection_set is None or not isinstance(parent, GraphQLObjectType):
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, on or parent, seen)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value, parent, seen)
        return total

    def fragment(self, name: str, parent: GraphQLNamedType, seen: frozenset[str]) -> int:
        """A named fragment's cost, computed once however often it is spread."""
        fragment = self.fragments.get(name)
        if fragment is None or name in seen:
            return 0
        if name not in self.fragment_costs:
            on = self.schema.get_type(fragment.type_condition.name.value) or parent
            self.fragment_costs[name] = self.selections(fragment.selection_set, on, seen | {name})
        return self.fragment_costs[name]

    def field(self, node: FieldNode, parent: GraphQLObjectType, seen: frozenset[str]) -> int:
        definition = parent.fields.get(node.name.value)
        if definition is None or node.name.value.startswith("__"):
            return 0
        own = FIELD_COSTS.get(node.name.value, 0)
        if node.selection_set is None:
            return own
        inner = self.selections(node.selection_set, get_named_type(definition.type), seen)
        nullable = get_nullable_type(definition.type)
        if "first" in definition.args:
            size = self.page_size(node, definition.args["first"].default_value)
        elif isinstance(nullable, GraphQLList) and not parent.name.endswith("Page"):
            size = DEFAULT_LIST_SIZE  # a page's `items` were counted by the page's `first`
        else:
            size = 1
        return own + size * (1 + inner)

    def page_size(self, node: FieldNode, default: Any) -> int:
        argument = next((a for a in node.arguments or () if a.name.value == "first"), None)
        value = value_from_ast(argument.value, GraphQLInt, self.variables) if argument else None
        size = value if isinstance(value, int) else default
        return min(max(size if isinstance(size, int) else DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE)


class QueryCostLimiter(SchemaExtension):
    """Refuses operations estimated above `max_cost` with `QUERY_TOO_COMPLEX`."""

    def __init__(self, max_cost: int) -> None:
        self.max_cost = max_cost

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        variables, max_cost = context.variables or {}, self.max_cost

        class CostRule(ValidationRule):
            def __init__(self, validation: ValidationContext) -> None:
                super().__init__(validation)
                cost = QueryCost(validation.schema, validation.document, variables)
                for operation in validation.document.definitions:
                    if not isinstance(operation, OperationDefinitionNode):
                        continue
                    estimate = cost.operation(operation)
                    if estimate > max_cost:
                        validation.report_error(
                            GraphQLError(
                                f"the query's estimated cost is {estimate}, over the limit of "
                                f"{max_cost}: ask for fewer items (`first`), fewer nested lists "
                                "or fewer live `position` fields",
                                extensions={
                                    "code": "QUERY_TOO_COMPLEX",
                                    "cost": estimate,
                                    "maxCost": max_cost,
                                },
                            )
                        )

        context.validation_rules = (*context.validation_rules, CostRule)
        yield
