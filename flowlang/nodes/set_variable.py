"""The `setVariable` node: set `variable` from a `value` template or an `expression`.

A string `value` is rendered (`"{{first}} {{last}}"`); other JSON values are stored as they are;
an `expression` is evaluated (`{{age}} >= 18` stores true or false).
"""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from flowlang.node_base import (
    DEFAULT,
    Expression,
    NodeData,
    NodeType,
    RunContext,
    Template,
    VariableName,
)


class SetVariableData(NodeData):
    variable: VariableName
    value: Template | int | float | bool | list[Any] | dict[str, Any] | None = None
    expression: Expression | None = None

    @model_validator(mode="after")
    def _value_or_expression(self) -> SetVariableData:
        has_value = "value" in self.model_fields_set
        if has_value == (self.expression is not None):
            raise ValueError("give exactly one of `value` and `expression`")
        return self


async def run(ctx: RunContext, data: SetVariableData) -> str:
    if data.expression is not None:
        ctx.variables[data.variable] = ctx.evaluate(data.expression)
    elif isinstance(data.value, str):
        ctx.variables[data.variable] = ctx.render(data.value)
    else:
        ctx.variables[data.variable] = data.value
    return DEFAULT


SET_VARIABLE = NodeType(
    type="setVariable",
    data_model=SetVariableData,
    run=run,
)
