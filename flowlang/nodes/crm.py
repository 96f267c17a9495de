"""The `crm` node: create or update the contact in the organization's CRM, optionally with a deal.

`provider` is `hubspot`, `pipedrive` or `salesforce`. `fields` maps the CRM's own field names
to templates (`{"firstname": "{{contact.name}}", "company": "{{company}}"}`). The record is
looked up by the id kept on the contact from an earlier sync, then by `email`, then by `phone`
(defaults: the contact's); found records are updated, otherwise one is created. With `deal`
(`name`, `amount`, `currency`, `stage`) a deal — an opportunity in Salesforce — is created for
it. Under the node id the flow finds `{"record_id", "created", "deal_id", "error"}`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from flowlang.integration_steps import IntegrationData, call, failed_step, with_error
from flowlang.node_base import NodeFailed, NodeType, RunContext, Template, render_optional
from models.payloads.activity_names import SYNC_CRM
from models.payloads.integrations import CrmDeal, CrmRequest, CrmSynced


class DealData(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, validate_by_name=True)

    name: Template = Field(min_length=1)
    amount: float | Template | None = None
    currency: str | None = Field(default=None, pattern=r"^[a-zA-Z]{3}$")
    stage: str | None = Field(default=None, min_length=1)


class CrmData(IntegrationData):
    provider: Literal["hubspot", "pipedrive", "salesforce"]
    email: Template = "{{contact.email}}"
    phone: Template = "{{contact.phone}}"
    fields: dict[str, Template] = Field(default_factory=dict)
    deal: DealData | None = None


async def run(ctx: RunContext, data: CrmData) -> str:
    fields = {name: ctx.render(value) for name, value in data.fields.items()}
    request = CrmRequest(
        provider=data.provider,
        email=ctx.render(data.email).strip(),
        phone=ctx.render(data.phone).strip(),
        fields={name: value for name, value in fields.items() if value != ""},
    )
    if data.deal is not None:
        try:
            request.deal = _deal(ctx, data.deal)
        except NodeFailed as invalid:
            return await failed_step(ctx, data, str(invalid))
    return await call(ctx, data, SYNC_CRM, request, CrmSynced, f"the {data.provider} sync failed")


def _deal(ctx: RunContext, deal: DealData) -> CrmDeal:
    amount = render_optional(ctx, deal.amount) if isinstance(deal.amount, str) else deal.amount
    try:
        value = float(amount) if amount not in (None, "") else None
    except ValueError:
        raise NodeFailed(f"the deal amount {amount!r} is not a number") from None
    return CrmDeal(
        name=ctx.render(deal.name), amount=value, currency=deal.currency, stage=deal.stage
    )


CRM = NodeType(type="crm", data_model=CrmData, handles=with_error, run=run)
