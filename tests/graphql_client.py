"""A GraphQL client for tests: runs operations over HTTP on the real app, as a given caller."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

SIGN_UP = """
mutation($email: String!, $password: String!, $org: String!) {
  signUp(email: $email, password: $password, organizationName: $org) {
    accessToken refreshToken expiresIn
    member { role user { id email } organization { id name } }
  }
}"""
PASSWORD = "correct horse battery"


class GraphQL:
    """Posts operations to /graphql with this caller's bearer token (if any)."""

    def __init__(self, api: httpx.AsyncClient, token: str | None = None) -> None:
        self.api, self.token = api, token

    async def result(self, query: str, **variables: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.api.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code in (200, 429), response.text
        return response.json()

    async def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        """The data of an operation that must succeed."""
        body = await self.result(query, **variables)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def error(self, query: str, **variables: Any) -> dict[str, Any]:
        """The single error of an operation that must fail (with `code` lifted out)."""
        body = await self.result(query, **variables)
        errors = body.get("errors") or []
        assert len(errors) == 1, body
        return {"code": errors[0].get("extensions", {}).get("code"), **errors[0]}


async def sign_up(
    api: httpx.AsyncClient, org: str = "Acme", email: str | None = None
) -> tuple[GraphQL, dict[str, Any]]:
    """A new user owning a new organization: their client and the sign-up payload."""
    email = email or f"owner-{uuid.uuid4().hex[:8]}@example.com"
    data = await GraphQL(api)(SIGN_UP, email=email, password=PASSWORD, org=org)
    payload = data["signUp"]
    return GraphQL(api, payload["accessToken"]), payload
