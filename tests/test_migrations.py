"""The migrations build the schema the models describe, and the schema keeps its promises."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import NullPool

from models.bot_tables import Bot, Channel
from models.conversation_tables import (
    Contact,
    Conversation,
    FlowRun,
    FlowRunStep,
    Message,
)
from models.db import Base, sqlalchemy_url
from models.flow_tables import Flow, FlowVersion
from models.tenancy_tables import Organization
from stack import migrate
from stack.cli import NOT_MIGRATED


@pytest.fixture
def fresh_url(postgres_url: str) -> Iterator[str]:
    """URL of a new, empty database on the session's server; dropped after the test."""
    name = f"bb_migration_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield urlsplit(postgres_url)._replace(path=f"/{name}").geturl()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def table_names(url: str) -> set[str]:
    """The tables in the public schema of the database at `url`."""
    engine = create_engine(sqlalchemy_url(url), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def head_revision(url: str) -> str | None:
    """The newest revision among the packaged migrations."""
    return ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()


def test_upgrade_downgrade_upgrade(fresh_url: str) -> None:
    assert migrate.current(fresh_url) is None

    migrate.upgrade(fresh_url)
    assert migrate.current(fresh_url) == head_revision(fresh_url)
    assert table_names(fresh_url) == set(Base.metadata.tables) | {"alembic_version"}

    migrate.downgrade(fresh_url)
    assert migrate.current(fresh_url) is None
    assert table_names(fresh_url) == {"alembic_version"}

    migrate.upgrade(fresh_url)
    assert migrate.current(fresh_url) == head_revision(fresh_url)


def test_models_and_migrations_agree(fresh_url: str) -> None:
    migrate.upgrade(fresh_url)
    engine = create_engine(sqlalchemy_url(fresh_url), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_conversations_keep_their_24_hour_window_across_the_upgrade(fresh_url: str) -> None:
    migrate.upgrade(fresh_url, "0017")
    with psycopg.connect(fresh_url, autocommit=True) as conn:
        conversation = conn.execute(
            """WITH org AS (INSERT INTO organizations (name, slug) VALUES ('Acme', 'acme')
                            RETURNING id),
                    bot AS (INSERT INTO bots (organization_id, name) SELECT id, 'Support' FROM org
                            RETURNING id),
                    channel AS (INSERT INTO channels (bot_id, kind, name)
                                SELECT id, 'whatsapp_cloud', 'WA' FROM bot RETURNING id, bot_id),
                    contact AS (INSERT INTO contacts (bot_id, channel_kind, external_id)
                                SELECT id, 'whatsapp_cloud', '34600' FROM bot RETURNING id)
               INSERT INTO conversations (bot_id, channel_id, contact_id, workflow_id)
               SELECT channel.bot_id, channel.id, contact.id, 'c-1' FROM channel, contact
               RETURNING id, channel_id"""
        ).fetchone()
        assert conversation is not None
        for direction, content, created in (
            ("inbound", '{"timestamp": "2026-11-20T10:00:00+00:00"}', "2026-11-20 10:05+00"),
            ("inbound", "{}", "2026-11-19 09:00+00"),  # no provider timestamp: when stored
            ("outbound", "{}", "2026-11-21 08:00+00"),  # ours: not the contact's
        ):
            conn.execute(
                """INSERT INTO messages (conversation_id, channel_id, direction, type, content,
                                         status, created_at)
                   VALUES (%s, %s, %s, 'text', %s, 'received', %s)""",
                (*conversation, direction, content, created),
            )
    migrate.upgrade(fresh_url)
    with psycopg.connect(fresh_url) as conn:
        last_inbound = conn.execute("SELECT last_inbound_at FROM conversations").fetchone()
    assert last_inbound is not None and last_inbound[0].isoformat() == "2026-11-20T10:00:00+00:00"


async def add_bot_with_history(session: AsyncSession) -> Bot:
    """A bot with a channel, a published flow, and one conversation with a message and a run."""
    tag = uuid.uuid4().hex[:8]
    org = Organization(name="Acme", slug=f"acme-{tag}")
    session.add(org)
    await session.flush()
    bot = Bot(organization_id=org.id, name="Support")
    session.add(bot)
    await session.flush()
    channel = Channel(bot_id=bot.id, kind="web", name="Site chat")
    flow = Flow(bot_id=bot.id, name="Welcome", definition={"nodes": [], "edges": []})
    contact = Contact(bot_id=bot.id, channel_kind="web", external_id="session-1")
    session.add_all([channel, flow, contact])
    await session.flush()
    version = FlowVersion(flow_id=flow.id, version=1, definition=flow.definition)
    conversation = Conversation(
        bot_id=bot.id,
        channel_id=channel.id,
        contact_id=contact.id,
        workflow_id=f"conversation-{tag}",
    )
    session.add_all([version, conversation])
    await session.flush()
    flow.published_version_id = version.id
    bot.default_flow_id = flow.id
    run = FlowRun(
        conversation_id=conversation.id,
        flow_id=flow.id,
        flow_version_id=version.id,
        workflow_id=f"flow-run-{tag}",
    )
    message = Message(
        conversation_id=conversation.id,
        channel_id=channel.id,
        direction="inbound",
        type="text",
        content={"text": "hola"},
        text="hola",
        status="received",
        provider_message_id="wamid.1",
    )
    session.add_all([run, message])
    await session.flush()
    conversation.current_flow_run_id = run.id
    session.add(FlowRunStep(flow_run_id=run.id, sequence=1, node_id="start", node_type="start"))
    await session.commit()
    return bot


async def test_duplicate_provider_message_id_is_rejected(db_session: AsyncSession) -> None:
    await add_bot_with_history(db_session)
    message = (await db_session.scalars(select(Message))).one()
    fields = {
        "conversation_id": message.conversation_id,
        "channel_id": message.channel_id,
        "direction": "outbound",
        "type": "text",
        "status": "pending",
    }

    db_session.add_all([Message(**fields), Message(**fields)])  # no provider id yet: allowed
    await db_session.commit()

    db_session.add(Message(**fields, provider_message_id="wamid.1"))
    with pytest.raises(IntegrityError, match="uq_messages_channel_id_provider_message_id"):
        await db_session.commit()
    await db_session.rollback()


async def test_deleting_a_bot_deletes_everything_under_it(db_session: AsyncSession) -> None:
    bot = await add_bot_with_history(db_session)
    other_bot = await add_bot_with_history(db_session)

    await db_session.delete(bot)
    await db_session.commit()

    for table in (Channel, Flow, FlowVersion, Contact, Conversation, Message, FlowRun, FlowRunStep):
        count = await db_session.scalar(select(func.count()).select_from(table))
        assert count == 1, table.__tablename__
    remaining = await db_session.scalar(select(Conversation.bot_id))
    assert remaining == other_bot.id


def test_a_command_on_a_database_without_the_tables_says_so(fresh_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": fresh_url}
    chat = subprocess.run(
        [sys.executable, "-m", "stack.cli", "chat", "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert chat.returncode == 1
    assert chat.stderr.strip() == NOT_MIGRATED
