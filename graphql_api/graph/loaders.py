"""Per-request DataLoaders: each nested list (a bot's channels and flows, a flow's versions, a
conversation's notes and runs, a run's steps) is read with one query per level for all its
parents, whatever the page size."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute
from strawberry.dataloader import DataLoader

from models import conversation_tables, tables


async def rows_by_parent(
    sessions: async_sessionmaker[AsyncSession],
    parent: InstrumentedAttribute[uuid.UUID],
    order: Sequence[Any],
    keys: list[uuid.UUID],
) -> list[list[Any]]:
    """The rows whose `parent` column is each of `keys`, in `order`, one list per key."""
    async with sessions() as session:
        rows = await session.scalars(select(parent.class_).where(parent.in_(keys)).order_by(*order))
        grouped: defaultdict[uuid.UUID, list[Any]] = defaultdict(list)
        for row in rows:
            grouped[getattr(row, parent.key)].append(row)
    return [grouped[key] for key in keys]


class Loaders:
    """The DataLoaders of one request, keyed by the parent's id."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        def by_parent(
            parent: InstrumentedAttribute[uuid.UUID], *order: Any
        ) -> DataLoader[uuid.UUID, list[Any]]:
            return DataLoader(load_fn=partial(rows_by_parent, sessions, parent, order))

        Channel, Flow, FlowVersion = tables.Channel, tables.Flow, tables.FlowVersion
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
