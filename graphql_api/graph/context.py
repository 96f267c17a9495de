"""The context of one GraphQL request (or websocket), and what resolvers do with it: the
platform, the caller once authenticated, per-request DataLoaders, and transactions.

Resolvers start with `require_caller(info)` and read and write in `transaction(info)`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection
from strawberry.fastapi import BaseContext
from strawberry.types import Info

from graphql_api.auth import ALL_ROLES, Caller, authenticate, check_role
from graphql_api.graph.loaders import Loaders
from models.errors import Conflict, TooManyAttempts
from services.accounts.log_in_limits import forget_attempts, reserve_attempt, source_of

if TYPE_CHECKING:
    from graphql_api.platform import Platform


class Context(BaseContext):
    """What every resolver of one request shares; strawberry's router adds `request`,
    `response` and, on websockets, `connection_params`."""

    def __init__(self, platform: Platform) -> None:
        super().__init__()
        self.platform = platform
        self.caller: Caller | None = None
        self.loaders = Loaders(platform.sessions)


ContextInfo = Info[Context, Any]


async def context_getter(request: HTTPConnection) -> Context:
    """A fresh context per request or websocket (DataLoaders cache only within one)."""
    return Context(request.app.state.platform)


def platform_of(info: ContextInfo) -> Platform:
    return info.context.platform


async def require_caller(info: ContextInfo, roles: Collection[str] = ALL_ROLES) -> Caller:
    """The authenticated caller of this GraphQL request, with one of `roles`."""
    context: Context = info.context
    if context.caller is None:
        assert context.request is not None  # set by strawberry's router before any resolver
        context.caller = await authenticate(
            context.platform, context.request, context.connection_params
        )
    return check_role(context.caller, roles)


UNIQUE_VIOLATION = "23505"
DEADLOCK_STATES = ("40P01", "40001")  # deadlock detected, serialization failure
DEADLOCK_ATTEMPTS = 5
T = TypeVar("T")


@asynccontextmanager
async def transaction(info: ContextInfo) -> AsyncIterator[AsyncSession]:
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


def answer_too_many(info: ContextInfo, error: TooManyAttempts) -> TooManyAttempts:
    """Make the HTTP answer of this GraphQL request `429` with `Retry-After`; returns `error`."""
    response = info.context.response
    if response is not None:
        response.status_code = 429
        response.headers["Retry-After"] = str(error.retry_after)
    return error


def throttle_anonymous(info: ContextInfo) -> None:
    """Refuse (HTTP 429) a sign-up or log-in beyond the client address's rate."""
    try:
        platform_of(info).auth_limiter.check(info.context.request)
    except TooManyAttempts as error:
        raise answer_too_many(info, error) from None


@asynccontextmanager
async def password_attempt(info: ContextInfo, email: str | None) -> AsyncIterator[None]:
    """Guard a block that checks `email`'s password with the log-in limits
    (`services.accounts.log_in_limits`): the attempt is counted (and committed) first, a success
    clears it. With no email (nothing to guess) the block just runs."""
    if email is None:
        yield
        return
    request: HTTPConnection = info.context.request
    source = source_of(request.client.host if request.client else None)
    try:
        async with transaction(info) as session:
            await reserve_attempt(session, email, source)
    except TooManyAttempts as error:
        raise answer_too_many(info, error) from None
    yield
    async with transaction(info) as session:
        await forget_attempts(session, email, source)


async def deadlock_retried(info: ContextInfo, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
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
