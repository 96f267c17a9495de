"""Who is calling: every resolver and HTTP route asks here first.

Credentials travel in `Authorization: Bearer <token>`: a JWT access token (a user in one
organization, role looked up now) or an organization API key (`bbk_...`, role `admin`), also
accepted as `X-API-Key: bbk_...`.

    caller = await require_caller(info, roles=MANAGERS)
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection
from strawberry.types import Info

from models.errors import Conflict, Forbidden, NotFound, TooManyAttempts, Unauthenticated
from models.tables import ApiKey
from services.accounts.log_in_limits import forget_attempts, reserve_attempt, source_of
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


def platform_of(info: Info) -> Platform:
    return info.context["platform"]


async def require_caller(info: Info, roles: Collection[str] = ALL_ROLES) -> Caller:
    """The authenticated caller of this GraphQL request, with one of `roles`."""
    context: dict[str, Any] = info.context
    caller = context.get("caller")
    if caller is None:
        caller = await authenticate(
            platform_of(info), context["request"], context.get("connection_params")
        )
        context["caller"] = caller
    return check_role(caller, roles)


def user_of(caller: Caller) -> uuid.UUID:
    """The caller's user id; API keys act for an organization, not a person."""
    if caller.user_id is None:
        raise Forbidden("this needs a user's access token, not an API key")
    return caller.user_id


def parse_id(value: str, what: str) -> uuid.UUID:
    """An id from a client; a malformed one answers exactly like a missing object."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"no such {what}") from None


UNIQUE_VIOLATION = "23505"
DEADLOCK_STATES = ("40P01", "40001")  # deadlock detected, serialization failure
DEADLOCK_ATTEMPTS = 5
T = TypeVar("T")


@asynccontextmanager
async def transaction(info: Info) -> AsyncIterator[AsyncSession]:
    """A session whose work is committed when the block ends, rolled back on any error.

    A unique constraint broken by a concurrent request becomes a `Conflict`, not a crash: the
    checks before the write cannot see a row another transaction has not committed yet.
    """
    try:
        async with platform_of(info).sessions.begin() as session:
            yield session
    except IntegrityError as err:
        if getattr(err.orig, "sqlstate", None) != UNIQUE_VIOLATION:
            raise
        raise Conflict(
            "the same name or address was just used by another request; nothing was written, "
            "try again"
        ) from err


def answer_too_many(info: Info, error: TooManyAttempts) -> TooManyAttempts:
    """Make the HTTP answer of this GraphQL request `429` with `Retry-After`; returns `error`."""
    response = info.context.get("response")
    if response is not None:
        response.status_code = 429
        response.headers["Retry-After"] = str(error.retry_after)
    return error


def throttle_anonymous(info: Info) -> None:
    """Refuse (HTTP 429) a sign-up or log-in beyond the client address's rate."""
    try:
        platform_of(info).auth_limiter.check(info.context["request"])
    except TooManyAttempts as error:
        raise answer_too_many(info, error) from None


@asynccontextmanager
async def password_attempt(info: Info, email: str | None) -> AsyncIterator[None]:
    """Guard a block that checks `email`'s password with the log-in limits
    (`services.accounts.log_in_limits`): the attempt is counted (and committed) first, a success
    clears it. With no email (nothing to guess) the block just runs."""
    if email is None:
        yield
        return
    request: HTTPConnection = info.context["request"]
    source = source_of(request.client.host if request.client else None)
    try:
        async with transaction(info) as session:
            await reserve_attempt(session, email, source)
    except TooManyAttempts as error:
        raise answer_too_many(info, error) from None
    yield
    async with transaction(info) as session:
        await forget_attempts(session, email, source)


async def deadlock_retried(info: Info, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """`work` in a `transaction`, run again (backing off) when PostgreSQL breaks a deadlock by
    failing it. A delete cascading through conversation data can meet a running conversation's
    write; whichever side loses is retried (activities by Temporal, the delete here)."""
    for attempt in range(DEADLOCK_ATTEMPTS):
        if attempt:
            await asyncio.sleep(0.05 * 2**attempt)
        try:
            async with transaction(info) as session:
                return await work(session)
        except DBAPIError as err:
            if getattr(err.orig, "sqlstate", None) not in DEADLOCK_STATES:
                raise
    raise Conflict("running conversations kept the data busy; nothing was deleted, try again")
