"""The database: declarative base, engine and session factory (SQLAlchemy 2 async + psycopg 3)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import BindParameter, MetaData, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, configure_mappers

from models.settings import get_settings

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of every table; constraint names are deterministic for migrations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def sqlalchemy_url(url: str) -> str:
    """A `postgresql://` URL spelled for SQLAlchemy's psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url!r}")


def libpq_url(url: str) -> str:
    """The same URL spelled for psycopg's own connections (LISTEN), which libpq parses."""
    return "postgresql://" + sqlalchemy_url(url).removeprefix("postgresql+psycopg://")


def make_engine(
    url: str, *, pre_ping: bool = True, analytics_facts: bool | None = None, **kwargs: Any
) -> AsyncEngine:
    """An async engine for a PostgreSQL URL in any common spelling.

    `pre_ping` checks each connection with a round trip when it leaves the pool, so a
    connection broken by a database restart is replaced instead of failing a request. The
    worker turns it off: every database call there is an activity, and a retried activity
    gets a fresh connection (a disconnect invalidates the pool), so the ping would only add a
    round trip to every statement group of every message.

    `analytics_facts` False (default: the `analytics_rollups` setting) sets
    `botbuilder.analytics_facts = off` on every connection: the triggers that write the
    analytics outbox then write nothing.
    """
    if analytics_facts is None:
        analytics_facts = get_settings().analytics_rollups
    if not analytics_facts:
        kwargs["connect_args"] = {
            **kwargs.get("connect_args", {}),
            "options": "-c botbuilder.analytics_facts=off",
        }
    # A fixed set of connections: one opened beyond it (an overflow) would be closed as soon as
    # it was returned, and under load a new one opened for nearly every transaction. The most
    # recently used goes out first: a light load keeps reusing a few warm connections (their
    # backends' caches, psycopg's prepared statements) instead of cycling through all of them.
    connections = get_settings().database_connections
    return create_async_engine(
        sqlalchemy_url(url),
        pool_pre_ping=pre_ping,
        pool_size=connections,
        max_overflow=0,
        pool_use_lifo=True,
        **kwargs,
    )


async def warm(engine: AsyncEngine) -> None:
    """Configure the ORM's mappers and open a first pooled connection (the dialect's first-connect
    queries with it) at process start: left to first use, both fell on a fresh stack's first
    message. A database not reachable yet is left to that first use."""
    configure_mappers()
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (DBAPIError, OSError) as err:
        log.warning("the database is not reachable yet (%s); connecting on first use", err)


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def bound(*columns: str) -> dict[str, BindParameter[Any]]:
    """`insert(table).values(**bound("a", "b"))`: each column's value is the parameter of the
    same name, so a statement built once takes its values at each execution."""
    return {column: bindparam(column) for column in columns}


def json_or_null(name: str) -> BindParameter[Any]:
    """A JSONB parameter whose None is SQL NULL (a bare JSONB parameter stores JSON `null`)."""
    return bindparam(name, type_=JSONB(none_as_null=True))
