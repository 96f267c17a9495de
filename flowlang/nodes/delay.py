"""The `delay` node: a durable timer, from seconds to weeks.

`delay` is in seconds (the seeds' field); `duration` is `{value, unit}` with unit seconds,
minutes, hours, days or weeks. When both are given they add up.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, model_validator

from flowlang.node_base import (
    DEFAULT,
    NodeData,
    NodeType,
    RunContext,
    always,
)

MAX_DELAY = timedelta(days=366)


class Duration(NodeData):
    value: float = Field(gt=0)
    unit: Literal["seconds", "minutes", "hours", "days", "weeks"] = "seconds"


class DelayData(NodeData):
    delay: float | None = Field(default=None, ge=0)
    duration: Duration | None = None

    @model_validator(mode="after")
    def _positive_and_bounded(self) -> DelayData:
        total = self.total()
        if total <= timedelta(0):
            raise ValueError("a delay needs `delay` (seconds) or `duration` {value, unit}")
        if total > MAX_DELAY:
            raise ValueError(f"a delay can last at most {MAX_DELAY.days} days")
        return self

    def total(self) -> timedelta:
        extra = timedelta(**{self.duration.unit: self.duration.value}) if self.duration else None
        return timedelta(seconds=self.delay or 0) + (extra or timedelta(0))


async def run(ctx: RunContext, data: DelayData) -> str:
    await ctx.sleep(data.total())
    return DEFAULT


DELAY = NodeType(
    type="delay",
    data_model=DelayData,
    waits=always,
    run=run,
)
