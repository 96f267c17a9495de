"""Who is calling: every resolver (through `graph.context.require_caller`) and HTTP route asks
here first.

Credentials travel in `Authorization: Bearer <token>`: a JWT access token (a user in one
organization, role looked up now) or an organization API key (`bbk_...`, role `admin`), also
accepted as `X-API-Key: bbk_...`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection

from models.errors import Forbidden, Unauthenticated
from models.tenancy_tables import ApiKey
from services.accounts.organizations import API_KEY_PREFIX, api_key_by_secret, membership
from services.accounts.tokens import read_access_token

if TYPE_CHECKING:
    from graphql_api.platform import Platform

ALL_ROLES = frozenset({"owner", "admin", "agent"})
MANAGERS = frozenset({"owner", "admin"})  # may change bots, flows, channels, members, keys
API_KEY_ROLE = "admin"
LOGGED_OUT = "this access token was revoked by logging out everywhere; log in again"


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: a user (or an API key) acting in one organization."""

    organization_id: uuid.UUID
    role: str
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    token_generation: int = 0


def bearer_secret(request: HTTPConnection) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


def connection_secret(params: Any) -> str | None:
    """The credentials a websocket client sent in its `connection_init` payload:
    `{"Authorization": "Bearer <token>"}` (any case) or `{"token": "<token>"}`."""
    if not isinstance(params, dict):
        return None
    for name, value in params.items():
        if str(name).lower() == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            return (token if scheme.lower() == "bearer" else value).strip() or None
    token = params.get("token")
    return token.strip() or None if isinstance(token, str) else None


async def authenticate(
    platform: Platform, request: HTTPConnection, connection_params: Any = None
) -> Caller:
    """The caller behind a request's (or websocket's) credentials, else `Unauthenticated`."""
    secret = bearer_secret(request) or connection_secret(connection_params)
    if secret is None:
        raise Unauthenticated("log in first: send `Authorization: Bearer <access token or key>`")
    async with platform.sessions.begin() as session:
        if secret.startswith(API_KEY_PREFIX):
            key = await api_key_by_secret(session, secret)
            return Caller(key.organization_id, API_KEY_ROLE, api_key_id=key.id)
        claims = read_access_token(platform.settings, secret)
        member = await membership(session, claims.user_id, claims.organization_id)
    if member is None:
        raise Unauthenticated("you are no longer a member of this organization")
    if member.user.token_generation != claims.generation:
        raise Unauthenticated(LOGGED_OUT)
    return Caller(
        member.organization.id,
        member.role,
        user_id=member.user.id,
        token_generation=claims.generation,
    )


async def still_allowed(platform: Platform, caller: Caller) -> None:
    """`Unauthenticated` when the caller has lost access since it authenticated: its API key
    was revoked, the user was removed from the organization or logged out everywhere (for
    long-lived subscriptions)."""
    async with platform.sessions.begin() as session:
        if caller.api_key_id is not None:
            key = await session.get(ApiKey, caller.api_key_id)
            if key is None or key.revoked_at is not None:
                raise Unauthenticated("this API key has been revoked")
        elif caller.user_id is not None:
            member = await membership(session, caller.user_id, caller.organization_id)
            if member is None:
                raise Unauthenticated("you are no longer a member of this organization")
            if member.user.token_generation != caller.token_generation:
                raise Unauthenticated(LOGGED_OUT)


def check_role(caller: Caller, roles: Collection[str]) -> Caller:
    if caller.role not in roles:
        wanted = " or ".join(sorted(roles))
        raise Forbidden(f"this needs the role {wanted}; you are {caller.role}")
    return caller


def user_of(caller: Caller) -> uuid.UUID:
    """The caller's user id; API keys act for an organization, not a person."""
    if caller.user_id is None:
        raise Forbidden("this needs a user's access token, not an API key")
    return caller.user_id
