"""Per-request DataLoaders: each nested list (a bot's channels and flows, a flow's versions, a
conversation's notes, runs and messages, a run's steps, a webhook endpoint's stats) is read with
one query per level for all its parents, whatever the page size, in the request's read session."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from strawberry.dataloader import DataLoader

from models import bot_tables, conversation_tables, flow_tables
from services.conversations.queries import MessageSlice, messages_of
from services.webhooks.endpoints import EndpointStats, endpoints_stats

Reading = Callable[[], AbstractAsyncContextManager[AsyncSession]]


class MessagesKey(NamedTuple):
    """A conversation's page of messages: `first` of them after the cursor `after`."""

    conversation_id: uuid.UUID
    first: int
    after: str | None


async def rows_by_parent(
    reading: Reading,
    parent: InstrumentedAttribute[uuid.UUID],
    order: Sequence[Any],
    keys: list[uuid.UUID],
) -> list[list[Any]]:
    """The rows whose `parent` column is each of `keys`, in `order`, one list per key."""
    async with reading() as session:
        rows = await session.scalars(select(parent.class_).where(parent.in_(keys)).order_by(*order))
        grouped: defaultdict[uuid.UUID, list[Any]] = defaultdict(list)
        for row in rows:
            grouped[getattr(row, parent.key)].append(row)
    return [grouped[key] for key in keys]


async def message_pages(reading: Reading, keys: list[MessagesKey]) -> list[MessageSlice]:
    """Each key's page; one query per distinct (`first`, `after`), in practice one."""
    pages: dict[MessagesKey, MessageSlice] = {}
    async with reading() as session:
        for first, after in {(key.first, key.after) for key in keys}:
            ids = [key.conversation_id for key in keys if (key.first, key.after) == (first, after)]
            found = await messages_of(session, ids, first, after)
            pages.update({MessagesKey(id, first, after): page for id, page in found.items()})
    return [pages[key] for key in keys]


async def stats_of_endpoints(reading: Reading, keys: list[uuid.UUID]) -> list[EndpointStats]:
    async with reading() as session:
        found = await endpoints_stats(session, keys)
    return [found[key] for key in keys]


class Loaders:
    """The DataLoaders of one request, keyed by the parent's id; they read in `reading` and,
    with `cache`, remember what they read until `clear`."""

    def __init__(self, reading: Reading, *, cache: bool = True) -> None:
        def by_parent(
            parent: InstrumentedAttribute[uuid.UUID], *order: Any
        ) -> DataLoader[uuid.UUID, list[Any]]:
            return DataLoader(load_fn=partial(rows_by_parent, reading, parent, order), cache=cache)

        Channel, Flow, FlowVersion = bot_tables.Channel, flow_tables.Flow, flow_tables.FlowVersion
        self.channels_of_bot = by_parent(Channel.bot_id, Channel.created_at, Channel.id)
        self.flows_of_bot = by_parent(Flow.bot_id, Flow.created_at, Flow.id)
        self.versions_of_flow = by_parent(FlowVersion.flow_id, FlowVersion.version.desc())
        Note, Run, Step = (
            conversation_tables.ConversationNote,
            conversation_tables.FlowRun,
            conversation_tables.FlowRunStep,
        )
        self.notes_of_conversation = by_parent(Note.conversation_id, Note.created_at, Note.id)
        self.runs_of_conversation = by_parent(Run.conversation_id, Run.started_at.desc(), Run.id)
        self.steps_of_run = by_parent(Step.flow_run_id, Step.sequence)
        self.run = by_parent(Run.id)  # by primary key: a list of one row, or none
        self.messages_of_conversation: DataLoader[MessagesKey, MessageSlice] = DataLoader(
            load_fn=partial(message_pages, reading), cache=cache
        )
        self.stats_of_endpoint: DataLoader[uuid.UUID, EndpointStats] = DataLoader(
            load_fn=partial(stats_of_endpoints, reading), cache=cache
        )

    def clear(self) -> None:
        """Forget every load (the next ones read again)."""
        for loader in vars(self).values():
            loader.clear_all()
