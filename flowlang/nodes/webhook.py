"""The `webhook` node: the seeds' HTTP call (`webhookUrl`, `method`, `headers`, `body`,
`timeout` in milliseconds as in the seeds), behaving like the `api` node.

The response is stored under `responseVariable` (default `webhook`) in the `api` node's shape.
"""

from __future__ import annotations

from pydantic import Field

from flowlang.node_base import RunContext, Template, VariableName
from flowlang.nodes.api import (
    HttpCallData,
    TemplatedJson,
    build_request,
    call,
    http_node,
)


class WebhookData(HttpCallData):
    webhook_url: Template = Field(min_length=1)
    method: Template = "POST"
    headers: dict[str, Template] = Field(default_factory=dict)
    body: TemplatedJson = None
    timeout: float = Field(default=5000, gt=0, le=300_000, description="Milliseconds.")
    response_variable: VariableName = "webhook"


async def run(ctx: RunContext, data: WebhookData) -> str:
    request = build_request(
        ctx,
        data,
        method=data.method,
        url=data.webhook_url,
        headers=data.headers,
        body=data.body,
        timeout_seconds=data.timeout / 1000,
    )
    return await call(ctx, data, request)


WEBHOOK = http_node("webhook", WebhookData, run)
