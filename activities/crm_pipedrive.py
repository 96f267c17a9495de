"""Pipedrive's API v1 (API token): persons found by email or phone, and deals."""

from __future__ import annotations

from typing import Any

import httpx

from activities.crm_http import call
from models.payloads.integrations import CrmDeal

SERVICE = "Pipedrive"


class PipedriveCrm:
    def __init__(self, client: httpx.AsyncClient, secrets: dict[str, Any]) -> None:
        self.client = client
        self.headers = {"x-api-token": secrets["api_token"]}

    async def _call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await call(self.client, SERVICE, method, path, headers=self.headers, **kwargs)

    async def find(self, email: str, phone: str) -> str | None:
        for field, value in (("email", email), ("phone", phone)):
            if not value:
                continue
            params = {"term": value, "fields": field, "exact_match": "true", "limit": "1"}
            _, found = await self._call("GET", "/v1/persons/search", params=params)
            items = ((found or {}).get("data") or {}).get("items") or []
            if items:
                return str(items[0]["item"]["id"])
        return None

    async def create(self, fields: dict[str, str], email: str, phone: str) -> str:
        person: dict[str, Any] = {"name": email or phone}  # Pipedrive requires a name
        person.update({key: value for key, value in (("email", email), ("phone", phone)) if value})
        _, created = await self._call("POST", "/v1/persons", json={**person, **fields})
        return str(created["data"]["id"])

    async def update(self, record_id: str, fields: dict[str, str]) -> bool:
        status, _ = await self._call("PUT", f"/v1/persons/{record_id}", json=fields)
        return status != 404

    async def create_deal(self, record_id: str, deal: CrmDeal) -> str:
        body: dict[str, Any] = {"title": deal.name, "person_id": int(record_id)}
        if deal.amount is not None:
            body["value"] = deal.amount
        if deal.currency:
            body["currency"] = deal.currency.upper()
        if deal.stage:
            body["stage_id"] = int(deal.stage) if deal.stage.isdigit() else deal.stage
        _, created = await self._call("POST", "/v1/deals", json=body)
        return str(created["data"]["id"])
