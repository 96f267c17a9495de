"""What the integration nodes (email, SMS) share: retry settings, the error path, addresses."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field
from pydantic_core import PydanticCustomError

from flowlang.node_base import (
    DEFAULT,
    ERROR,
    NodeData,
    NodeFailed,
    RunContext,
    Template,
)
from models.email_addresses import bad_addresses, split_addresses
from models.messages import OutboundMessage
from models.payloads.integrations import IntegrationCall


class IntegrationData(NodeData):
    """Fields every integration node has."""

    error_message: Template | None = Field(default=None, description="Said when it fails.")
    timeout_seconds: float = Field(default=30, gt=0, le=300, description="Per attempt.")
    retry_attempts: int = Field(default=3, ge=0, le=10)


def _literal_addresses_valid(text: str) -> str:
    """A list of addresses without `{{...}}` must hold only valid ones (templated lists are
    checked when the node runs, once filled in)."""
    if "{{" not in text:
        wrong = bad_addresses(split_addresses(text))
        if wrong:
            raise PydanticCustomError(
                "invalid_address",
                "not an email address: {addresses}",
                {"addresses": ", ".join(wrong)},
            )
    return text


AddressList = Annotated[Template, AfterValidator(_literal_addresses_valid)]


def rendered_addresses(ctx: RunContext, template: str | None) -> list[str]:
    """The addresses of a filled-in list; raises `NodeFailed` naming the invalid ones."""
    addresses = split_addresses(ctx.render(template)) if template else []
    wrong = bad_addresses(addresses)
    if wrong:
        raise NodeFailed(f"not an email address: {', '.join(wrong)}")
    return addresses


async def call(
    ctx: RunContext,
    data: IntegrationData,
    activity: str,
    request: IntegrationCall,
    result_type: type[BaseModel],
    failure: str,
) -> str:
    """Run the integration; `<node id>` holds its result (or `error`), the handle to follow."""
    request = request.model_copy(
        update={"timeout_seconds": data.timeout_seconds, "retries": data.retry_attempts}
    )
    try:
        result = await ctx.integration(activity, request, result_type, failure)
    except NodeFailed as failed:
        return await failed_step(ctx, data, str(failed))
    ctx.variables[ctx.node_id] = {**result.model_dump(mode="json"), "error": None}
    return DEFAULT


async def failed_step(ctx: RunContext, data: IntegrationData, reason: str) -> str:
    """Record why under `<node id>.error`, tell the contact if asked to, leave by `error`."""
    ctx.variables[ctx.node_id] = {"error": reason}
    if data.error_message:
        await ctx.send(OutboundMessage(kind="text", text=ctx.render(data.error_message)))
    return ERROR


def with_error(_: Any) -> list[str]:
    return [DEFAULT, ERROR]
