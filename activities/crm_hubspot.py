"""HubSpot's CRM v3 API (private app token): contacts found by email or phone, and deals."""

from __future__ import annotations

from typing import Any

import httpx

from activities.crm_http import call
from models.payloads.integrations import CrmDeal

SERVICE = "HubSpot"
CONTACT_TO_DEAL = 4  # HubSpot-defined association type: deal to contact is 3, contact to deal 4


class HubSpotCrm:
    def __init__(self, client: httpx.AsyncClient, secrets: dict[str, Any]) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {secrets['access_token']}"}

    async def _call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await call(self.client, SERVICE, method, path, headers=self.headers, **kwargs)

    async def find(self, email: str, phone: str) -> str | None:
        for prop, value in (("email", email), ("phone", phone)):
            if not value:
                continue
            search = {
                "filterGroups": [
                    {"filters": [{"propertyName": prop, "operator": "EQ", "value": value}]}
                ],
                "limit": 1,
            }
            _, found = await self._call("POST", "/crm/v3/objects/contacts/search", json=search)
            if found and found.get("results"):
                return str(found["results"][0]["id"])
        return None

    async def create(self, fields: dict[str, str], email: str, phone: str) -> str:
        identity = {key: value for key, value in (("email", email), ("phone", phone)) if value}
        _, created = await self._call(
            "POST", "/crm/v3/objects/contacts", json={"properties": {**identity, **fields}}
        )
        return str(created["id"])

    async def update(self, record_id: str, fields: dict[str, str]) -> bool:
        status, _ = await self._call(
            "PATCH", f"/crm/v3/objects/contacts/{record_id}", json={"properties": fields}
        )
        return status != 404

    async def create_deal(self, record_id: str, deal: CrmDeal) -> str:
        properties = {"dealname": deal.name}
        if deal.amount is not None:
            properties["amount"] = str(deal.amount)
        if deal.stage:
            properties["dealstage"] = deal.stage
        association = {
            "to": {"id": record_id},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
        }
        _, created = await self._call(
            "POST",
            "/crm/v3/objects/deals",
            json={"properties": properties, "associations": [association]},
        )
        return str(created["id"])
