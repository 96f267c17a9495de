"""The `condition` node: evaluate `condition` and leave by `true` or `false`.

Without a `condition` it leaves by `default`, so its edges' own `condition`s pick the branch.
"""

from __future__ import annotations

from flowlang.expressions import is_truthy
from flowlang.node_base import DEFAULT, Expression, NodeData, NodeType, RunContext

TRUE = "true"
FALSE = "false"


class ConditionData(NodeData):
    condition: Expression | None = None


def _branches(data: ConditionData) -> list[str]:
    return [TRUE, FALSE] if data.condition else []


async def run(ctx: RunContext, data: ConditionData) -> str:
    if not data.condition:
        return DEFAULT
    return TRUE if is_truthy(ctx.evaluate(data.condition)) else FALSE


CONDITION = NodeType(
    type="condition",
    data_model=ConditionData,
    handles=lambda data: [*_branches(data), DEFAULT],
    required_handles=_branches,
    run=run,
)
