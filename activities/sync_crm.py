"""The `sync_crm` activity of the `crm` node: create or update the contact's record in the
organization's CRM (HubSpot, Pipedrive or Salesforce), optionally with a deal.

The record id is kept on the contact (`attributes.crm_ids.<provider>`), so a later step or run
updates that record; without one, the CRM is searched by email, then phone, before creating.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import httpx
from sqlalchemy import select
from temporalio import activity

from activities.crm_hubspot import HubSpotCrm
from activities.crm_pipedrive import PipedriveCrm
from activities.crm_salesforce import SalesforceCrm
from activities.integration_base import IntegrationActivities
from models.conversation_tables import Contact
from models.payloads import activity_names
from models.payloads.integrations import CrmDeal, CrmRequest, CrmSynced


class Crm(Protocol):
    """One CRM's contacts (or leads) and deals."""

    async def find(self, email: str, phone: str) -> str | None: ...
    async def create(self, fields: dict[str, str], email: str, phone: str) -> str: ...
    async def update(self, record_id: str, fields: dict[str, str]) -> bool:
        """False when the record no longer exists."""
        ...

    async def create_deal(self, record_id: str, deal: CrmDeal) -> str: ...


class CrmSync(IntegrationActivities):
    kind = "hubspot"  # each request names its provider

    @activity.defn(name=activity_names.SYNC_CRM)
    async def sync_crm(self, request: CrmRequest) -> CrmSynced:
        """The record's id (found, updated or created) and the new deal's id."""
        config, secrets = await self.credentials(request.bot_id, request.provider)
        async with self.client(request) as client:
            crm = self.crm(request.provider, client, config, secrets)
            known = await self._known_id(request)
            record_id, created = known, False
            if not (known and await crm.update(known, request.fields)):
                record_id = await crm.find(request.email, request.phone)
                if record_id is not None:
                    await crm.update(record_id, request.fields)
                else:
                    record_id = await crm.create(request.fields, request.email, request.phone)
                    created = True
                await self._remember(request, record_id)
            assert record_id is not None
            deal_id = await crm.create_deal(record_id, request.deal) if request.deal else None
        return CrmSynced(record_id=record_id, created=created, deal_id=deal_id)

    def client(self, request: CrmRequest) -> httpx.AsyncClient:
        base = {
            "hubspot": self.settings.hubspot_api_url,
            "pipedrive": self.settings.pipedrive_api_url,
        }.get(request.provider, "")
        return httpx.AsyncClient(base_url=base, timeout=request.timeout_seconds)

    def crm(
        self,
        provider: str,
        client: httpx.AsyncClient,
        config: dict[str, Any],
        secrets: dict[str, Any],
    ) -> Crm:
        if provider == "hubspot":
            return HubSpotCrm(client, secrets)
        if provider == "pipedrive":
            return PipedriveCrm(client, secrets)
        return SalesforceCrm(self.settings.salesforce_login_url, config, secrets)

    async def _known_id(self, request: CrmRequest) -> str | None:
        if not request.contact_id:
            return None
        async with self.sessions() as session:
            attributes = await session.scalar(
                select(Contact.attributes).where(Contact.id == uuid.UUID(request.contact_id))
            )
        known = ((attributes or {}).get("crm_ids") or {}).get(request.provider)
        return str(known) if known else None

    async def _remember(self, request: CrmRequest, record_id: str) -> None:
        """Keep the record id on the contact: `attributes.crm_ids.<provider>`."""
        if not request.contact_id:
            return
        async with self.sessions.begin() as session:
            contact = await session.scalar(
                select(Contact).where(Contact.id == uuid.UUID(request.contact_id)).with_for_update()
            )
            if contact is not None:
                crm_ids = {**(contact.attributes.get("crm_ids") or {}), request.provider: record_id}
                contact.attributes = {**contact.attributes, "crm_ids": crm_ids}
