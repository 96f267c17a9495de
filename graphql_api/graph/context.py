"""The context of one GraphQL request (or websocket), and what resolvers do with it: the
platform, the caller once authenticated, the request's database snapshot, its DataLoaders, and
transactions.

Resolvers start with `require_caller(info)` and read and write in `transaction(info)`. The reads
of one query (its resolvers and DataLoaders alike) share one session on one snapshot, so every
nested field of an answer sees the same database state; a mutation writes in transactions of its
own, and what it answers is read after them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection
from strawberry.extensions import SchemaExtension
from strawberry.fastapi import BaseContext
from strawberry.types import Info
from strawberry.types.graphql import OperationType

from graphql_api.auth import ALL_ROLES, Caller, authenticate, check_role
from graphql_api.graph.loaders import Loaders
from models.errors import Conflict, TooManyAttempts
from services.accounts.log_in_limits import forget_attempts, reserve_attempt, source_of

if TYPE_CHECKING:
    from graphql_api.platform import Platform


# One snapshot for the whole answer; read-only, so a resolver's stray write fails loudly.
SNAPSHOT = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}


class Context(BaseContext):
    """What every resolver of one request shares; strawberry's router adds `request`,
    `response` and, on websockets, `connection_params`."""

    def __init__(self, platform: Platform, *, snapshot: bool = True) -> None:
        super().__init__()
        self.platform = platform
        self.caller: Caller | None = None
        self.authenticating = asyncio.Lock()
        self.snapshot = snapshot
        self.loaders = Loaders(self.reading, cache=snapshot)
        self._session: AsyncSession | None = None
        self._turn = asyncio.Lock()

    def follow_live(self) -> None:
        """A subscription (or a websocket) lives for hours: each read is a short transaction
        of its own, and loads are batched but never cached."""
        self.snapshot = False
        self.loaders = Loaders(self.reading, cache=False)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """The request's read session: opened on the first read (REPEATABLE READ READ ONLY, so
        the whole answer is one snapshot), shared by turns between resolvers and DataLoaders
        running at once. A database error ends it (its transaction is aborted); the next read
        opens a new one."""
        if not self.snapshot:
            async with self.platform.sessions() as session:
                yield session
            return
        async with self._turn:
            if self._session is None:
                session = self.platform.sessions()
                try:
                    await session.connection(execution_options=SNAPSHOT)
                except BaseException:
                    await session.close()
                    raise
                self._session = session
            try:
                yield self._session
            except DBAPIError:
                await self._end_snapshot()
                raise

    async def end_reads(self) -> None:
        """Close the snapshot and forget what the loaders read: reads after this open a new
        one (after a mutation's write, they see it). Called when the operation ends."""
        async with self._turn:
            await self._end_snapshot()

    async def _end_snapshot(self) -> None:
        session, self._session = self._session, None
        self.loaders.clear()
        if session is not None:
            await session.close()


class RequestSnapshot(SchemaExtension):
    """Closes the request's snapshot when its operation ends, errors included; a subscription
    reads without one (`Context.follow_live`)."""

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        if not isinstance(context, Context):
            yield
            return
        if self.execution_context.operation_type is OperationType.SUBSCRIPTION:
            context.follow_live()
        try:
            yield
        finally:
            await context.end_reads()


ContextInfo = Info[Context, Any]


async def context_getter(request: HTTPConnection) -> Context:
    """A fresh context per request or websocket (DataLoaders cache only within one request;
    a websocket's operations share its context, so it reads without a snapshot)."""
    return Context(request.app.state.platform, snapshot=request.scope["type"] == "http")


def platform_of(info: ContextInfo) -> Platform:
    return info.context.platform


async def require_caller(info: ContextInfo, roles: Collection[str] = ALL_ROLES) -> Caller:
    """The authenticated caller of this GraphQL request, with one of `roles`."""
    context: Context = info.context
    async with context.authenticating:  # once per request, whatever its number of root fields
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
    """A session for the resolver's block: a mutation's own field (and a subscription's setup)
    gets a write transaction of its own (`writing`); every other field (a query's, or one
    nested in any answer) reads the request's snapshot (`Context.reading`)."""
    if info.operation.operation.value == "query" or info.path.prev is not None:
        async with info.context.reading() as session:
            yield session
        return
    async with writing(info) as session:
        yield session


@asynccontextmanager
async def writing(info: ContextInfo) -> AsyncIterator[AsyncSession]:
    """A transaction of its own, committed when the block ends, rolled back on any error; in a
    mutation the request's snapshot is ended first, so what it answers is read after the write.

    A unique constraint broken by a concurrent request becomes a `Conflict`, not a crash: the
    checks before the write cannot see a row another transaction has not committed yet.
    """
    if info.operation.operation.value != "query":
        await info.context.end_reads()
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
        async with writing(info) as session:
            await reserve_attempt(session, email, source)
    except TooManyAttempts as error:
        raise answer_too_many(info, error) from None
    yield
    async with writing(info) as session:
        await forget_attempts(session, email, source)


async def deadlock_retried(info: ContextInfo, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """`work` in a `transaction`, run again (backing off) when PostgreSQL breaks a deadlock by
    failing it. A delete cascading through conversation data can meet a running conversation's
    write; whichever side loses is retried (activities by Temporal, the delete here)."""
    for attempt in range(DEADLOCK_ATTEMPTS):
        if attempt:
            await asyncio.sleep(0.05 * 2**attempt)
        try:
            async with writing(info) as session:
                return await work(session)
        except DBAPIError as err:
            if getattr(err.orig, "sqlstate", None) not in DEADLOCK_STATES:
                raise
    raise Conflict("running conversations kept the data busy; nothing was deleted, try again")
