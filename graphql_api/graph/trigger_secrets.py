"""GraphQL for a flow's own trigger secret: create or rotate it (shown once), see when it was
made, delete it."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from graphql_api.auth import MANAGERS
from graphql_api.graph.bots import secret_box
from graphql_api.graph.context import require_caller, transaction
from graphql_api.ids import parse_id
from models.trigger_tables import FlowTriggerSecret
from services.conversations import trigger_secrets
from services.tenancy import flow_in


@strawberry.type(description="A flow's new trigger secret: store it now.")
class FlowTriggerSecretCreated:
    flow_id: strawberry.ID
    created_at: datetime
    secret: str = strawberry.field(description="`whsec_...`; never shown again.")


@strawberry.type
class TriggerSecretQuery:
    @strawberry.field(description="When the flow's trigger secret was made; null when it has none.")
    async def flow_trigger_secret_created_at(
        self, info: Info, flow_id: strawberry.ID
    ) -> datetime | None:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            flow = await flow_in(session, caller.organization_id, parse_id(flow_id, "flow"))
            row = await session.get(FlowTriggerSecret, flow.id)
        return row.created_at if row is not None else None


@strawberry.type
class TriggerSecretMutation:
    @strawberry.mutation(
        description="A new `whsec_` secret signing this flow's triggers instead of an API key "
        "(shown only now); a previous one stops working at once."
    )
    async def rotate_flow_trigger_secret(
        self, info: Info, flow_id: strawberry.ID
    ) -> FlowTriggerSecretCreated:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            flow = await flow_in(session, caller.organization_id, parse_id(flow_id, "flow"))
            created_at, secret = await trigger_secrets.rotate(session, secret_box(info), flow)
        return FlowTriggerSecretCreated(flow_id=flow_id, created_at=created_at, secret=secret)

    @strawberry.mutation(description="Stop accepting signed triggers for this flow.")
    async def delete_flow_trigger_secret(self, info: Info, flow_id: strawberry.ID) -> bool:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            flow = await flow_in(session, caller.organization_id, parse_id(flow_id, "flow"))
            row = await session.get(FlowTriggerSecret, flow.id)
            if row is not None:
                await session.delete(row)
        return row is not None
