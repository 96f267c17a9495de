"""GraphQL for the organization's integrations (SMTP, Twilio SMS, Stripe, CRMs).

Secrets are write-only: `setIntegration` stores them encrypted, nothing ever returns them.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graphql_api.auth import MANAGERS
from graphql_api.graph.bots import json_object, optional_object, secret_box
from graphql_api.graph.context import require_caller, transaction
from models.integration_tables import IntegrationCredential
from services.integrations import credentials as integrations


@strawberry.enum
class IntegrationKind(Enum):
    SMTP = "smtp"
    TWILIO_SMS = "twilio_sms"
    STRIPE = "stripe"
    SALESFORCE = "salesforce"
    HUBSPOT = "hubspot"
    PIPEDRIVE = "pipedrive"


@strawberry.type(description="An integration's settings. Secrets are write-only: never returned.")
class Integration:
    kind: IntegrationKind
    config: JSON
    has_secrets: bool
    updated_at: datetime

    @classmethod
    def of(cls, row: IntegrationCredential) -> Integration:
        return cls(
            kind=IntegrationKind(row.kind),
            config=row.config,
            has_secrets=row.secrets_encrypted is not None,
            updated_at=row.updated_at,
        )


@strawberry.type
class IntegrationQuery:
    @strawberry.field(description="The integrations the organization has configured.")
    async def integrations(self, info: Info) -> list[Integration]:
        caller = await require_caller(info)
        async with transaction(info) as session:
            rows = await integrations.list_integrations(session, caller.organization_id)
        return [Integration.of(row) for row in rows]


@strawberry.type
class IntegrationMutation:
    @strawberry.mutation(
        description="Set or replace an integration; without `secrets` the stored ones stay."
    )
    async def set_integration(
        self,
        info: Info,
        kind: IntegrationKind,
        config: JSON,
        secrets: JSON | None = strawberry.UNSET,
    ) -> Integration:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            row = await integrations.set_integration(
                session,
                secret_box(info),
                caller.organization_id,
                kind.value,
                json_object(config, "config"),
                optional_object(secrets or None, "secrets"),
            )
        return Integration.of(row)

    @strawberry.mutation(description="Forget an integration's settings and secrets.")
    async def delete_integration(self, info: Info, kind: IntegrationKind) -> bool:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            return await integrations.delete_integration(
                session, caller.organization_id, kind.value
            )
