"""The transactional outbox of webhook events: `emit` writes an event in the caller's transaction.

An event (and one delivery per subscribed endpoint) is written only when an active endpoint of the
bot's organization subscribes to its type, in one statement, so a fact with no subscriber costs
one indexed lookup; the engine's most frequent facts (a message stored or sent, a conversation
opened, a flow run's start and end) carry that lookup in the statement that records them
(`emitting`, `emitting_sql`). The event id derives from the fact
(`type` + `key`), so a retried write of the same fact never emits twice. After the transaction
commits, the endpoints' delivery workflows are woken through the hook `on_commit` (installed by
the worker and the API).

    await emit(session, "error.occurred", key, "flow_run", run_id, {"node_id": node_id})
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import CTE, bindparam, column, event, literal_column, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from models.bot_tables import Channel
from models.payloads.engine import StepRecord

if TYPE_CHECKING:
    from models.integration_tables import Payment

EVENT_TYPES = (
    "message.received",
    "message.sent",
    "message.delivered",
    "message.read",
    "message.failed",
    "conversation.started",
    "conversation.handed_off",
    "conversation.ended",
    "flow.started",
    "flow.completed",
    "flow.failed",
    "bot.connected",
    "bot.disconnected",
    "payment.completed",
    "error.occurred",
    "webhook.endpoint_disabled",
)
TEST_EVENT = "webhook.test"
ALL_EVENTS = "*"
EVENT_NAMESPACE = uuid.UUID("5d7b3c1e-2f44-4c8e-9a51-0b7e6f1d9c23")
WAKE_KEY = "webhook_endpoints_to_wake"

# The scope of a fact: its organization, bot, conversation, and ids describing it (`extra`).
NO_EXTRA = "'{}'::jsonb"
# A message's scope, over `{messages}` (the table, or the rows a statement wrote) as `m`.
MESSAGE_SCOPE = (
    "SELECT b.organization_id AS org, b.id AS bot, c.id AS conv, "
    "jsonb_build_object('message_id', m.id, 'channel_id', m.channel_id, 'contact_id', "
    "c.contact_id, 'direction', m.direction, 'type', m.type, 'text', m.text, 'status', "
    "m.status, 'provider_message_id', m.provider_message_id) AS extra "
    "FROM {messages} m JOIN conversations c ON c.id = m.conversation_id "
    "JOIN bots b ON b.id = c.bot_id WHERE {which}"
)
# A conversation's scope, over `{conversations}` (the table, or the rows a statement wrote) as `c`.
CONVERSATION_SCOPE = (
    "SELECT b.organization_id AS org, b.id AS bot, c.id AS conv, "
    "jsonb_build_object('channel_id', c.channel_id, 'contact_id', c.contact_id, "
    "'status', c.status) AS extra "
    "FROM {conversations} c JOIN bots b ON b.id = c.bot_id WHERE {which}"
)
# A flow run's scope, over `{runs}` (the table, or the rows a statement wrote) as `r`.
FLOW_RUN_SCOPE = (
    "SELECT b.organization_id AS org, b.id AS bot, c.id AS conv, "
    "jsonb_build_object('flow_run_id', r.id, 'flow_id', r.flow_id, 'flow_version_id', "
    "r.flow_version_id, 'status', r.status) AS extra "
    "FROM {runs} r JOIN conversations c ON c.id = r.conversation_id "
    "JOIN bots b ON b.id = c.bot_id WHERE {which}"
)
SCOPES = {
    "organization": f"SELECT id AS org, NULL::uuid AS bot, NULL::uuid AS conv, {NO_EXTRA} AS extra "
    "FROM organizations WHERE id = :scope",
    "bot": f"SELECT organization_id AS org, id AS bot, NULL::uuid AS conv, {NO_EXTRA} AS extra "
    "FROM bots WHERE id = :scope",
    "conversation": CONVERSATION_SCOPE.format(conversations="conversations", which="c.id = :scope"),
    "message": MESSAGE_SCOPE.format(messages="messages", which="m.id = :scope"),
    "flow_run": FLOW_RUN_SCOPE.format(runs="flow_runs", which="r.id = :scope"),
}
# The active endpoints of organization `{org}` subscribing to the event (for bot `{bot}`).
SUBSCRIBED = """e.organization_id = {org} AND e.active AND e.disabled_at IS NULL
    AND (e.bot_id IS NULL OR e.bot_id = {bot})
    AND (CAST(:event_type AS text) = ANY(e.events) OR '*' = ANY(e.events))"""
# The event of the fact in `{scope}`, when an endpoint subscribes (parameters event_id,
# event_type, event_data), and one delivery per such endpoint: two data-modifying CTEs, which the
# statement recording a fact can carry itself (`emitting`).
NEW_EVENT = f"""INSERT INTO webhook_events (id, organization_id, bot_id, type, payload)
  SELECT CAST(:event_id AS uuid), scope.org, scope.bot, CAST(:event_type AS text),
         jsonb_build_object('type', CAST(:event_type AS text), 'timestamp', now(), 'data',
           jsonb_strip_nulls(jsonb_build_object('bot_id', scope.bot, 'conversation_id', scope.conv)
                             || scope.extra) || :event_data)
  FROM ({{scope}}) AS scope
  WHERE EXISTS (SELECT FROM webhook_endpoints e
                WHERE {SUBSCRIBED.format(org="scope.org", bot="scope.bot")})
  ON CONFLICT (id) DO NOTHING
  RETURNING id, organization_id, bot_id"""
NEW_DELIVERIES = f"""INSERT INTO webhook_deliveries (event_id, endpoint_id, next_attempt_at)
  SELECT new_event.id, e.id, now() FROM new_event JOIN webhook_endpoints e
    ON {SUBSCRIBED.format(org="new_event.organization_id", bot="new_event.bot_id")}
  RETURNING endpoint_id"""
EVENT_DATA = bindparam("event_data", type_=JSONB)
# The endpoints to wake, for the statement carrying `emitting`'s CTEs to return.
ENDPOINTS_ARRAY = "ARRAY(SELECT endpoint_id FROM new_deliveries)"
NEW_ENDPOINTS = literal_column(ENDPOINTS_ARRAY).label("new_endpoints")
CONVERSATION_STATUS_EVENTS = {  # `conversation.started` rides with the conversation's opening
    "handed_off": "conversation.handed_off",
    "abandoned": "conversation.ended",
    "closed": "conversation.ended",
}


def event_id(event_type: str, key: object) -> uuid.UUID:
    """The id of the event reporting fact `key`: the same fact always gets the same id."""
    return uuid.uuid5(EVENT_NAMESPACE, f"{event_type}:{key}")


def emitting_sql(scope: str) -> str:
    """`emitting`'s two CTEs written out, for a statement written in SQL (which binds
    `EVENT_DATA` and returns `NEW_ENDPOINTS`)."""
    return f"new_event AS ({NEW_EVENT.format(scope=scope)}), new_deliveries AS ({NEW_DELIVERIES})"


def emitting(scope: str) -> list[CTE]:
    """The CTEs that write the event of the fact in `scope` (SQL over the statement's earlier
    CTEs, as in `SCOPES`) when an endpoint subscribes; the statement returns `NEW_ENDPOINTS`
    and takes `event_params`."""
    new_event = text(NEW_EVENT.format(scope=scope)).bindparams(EVENT_DATA)
    return [
        new_event.columns(column("id"), column("organization_id"), column("bot_id")).cte(
            "new_event"
        ),
        text(NEW_DELIVERIES).columns(column("endpoint_id")).cte("new_deliveries"),
    ]


def event_params(event_type: str, key: object, data: dict[str, Any] | None) -> dict[str, Any]:
    """The parameters of an event: its type, its id (from `key`), and `data` beyond its scope."""
    return {
        "event_id": event_id(event_type, key),
        "event_type": event_type,
        "event_data": data or {},
    }


def message_event_type(status: str) -> str:
    """The event reporting a message now in `status`: `message.received`, `.sent`, ..."""
    return "message.received" if status == "received" else f"message.{status}"


def message_event_params(
    message_id: object, status: str, error: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`event_params` of the message's event for `status` (for a statement `emitting` it)."""
    return event_params(message_event_type(status), message_id, {"error": error})


# `emit`'s statement per scope: the event's CTEs and the endpoints to wake, nothing else.
STATEMENTS = {scope: select(NEW_ENDPOINTS).add_cte(*emitting(sql)) for scope, sql in SCOPES.items()}


async def emit(
    session: AsyncSession,
    event_type: str,
    key: object,
    scope: str,
    scope_id: object,
    data: dict[str, Any] | None = None,
) -> None:
    """Write the event in the session's transaction when an endpoint subscribes to it. `scope`
    (a key of `SCOPES`) and `scope_id` name the fact's subject; its ids join `data`."""
    endpoints = await session.scalar(
        STATEMENTS[scope],
        {"scope": uuid.UUID(str(scope_id)), **event_params(event_type, key, data)},
    )
    wake_after_commit(session, endpoints)


async def message_event(
    session: AsyncSession, message_id: object, status: str, error: dict[str, Any] | None = None
) -> None:
    """`message.received`, `.sent`, `.delivered`, `.read` or `.failed`, once per message."""
    event_type = message_event_type(status)
    if event_type in EVENT_TYPES:
        await emit(session, event_type, message_id, "message", message_id, {"error": error})


async def conversation_event(
    session: AsyncSession, conversation_id: object, status: str, key: object
) -> None:
    """`conversation.handed_off` or `.ended` (`abandoned`, `closed`); other statuses (`active`
    again after a hand-off) report nothing."""
    event_type = CONVERSATION_STATUS_EVENTS.get(status)
    if event_type is not None:
        await emit(session, event_type, key, "conversation", conversation_id)


def flow_event_params(run_id: object, status: str, error: str | None = None) -> dict[str, Any]:
    """`event_params` of the run's event for `status` (`flow.started` for `running`,
    `flow.completed`, `flow.failed`), and `emits`: whether `status` has an event at all
    (`abandoned` and `cancelled` have none), for a statement `emitting` it over
    `FLOW_RUN_SCOPE` that ends the run."""
    event_type = "flow.started" if status == "running" else f"flow.{status}"
    return {
        **event_params(event_type, run_id, {"error": error}),
        "emits": event_type in EVENT_TYPES,
    }


async def node_errors(session: AsyncSession, steps: list[StepRecord]) -> None:
    """`error.occurred` for each step that ended in an error."""
    for step in steps:
        if step.error:
            data = {"node_id": step.node_id, "node_type": step.node_type, "error": step.error}
            await emit(
                session,
                "error.occurred",
                f"{step.run_id}:{step.sequence}",
                "flow_run",
                step.run_id,
                data,
            )


async def payment_event(session: AsyncSession, payment: Payment) -> None:
    """`payment.completed` when a payment node's payment is paid (once per payment)."""
    if payment.status == "paid":
        data = {
            "payment_id": str(payment.id),
            "flow_run_id": str(payment.flow_run_id) if payment.flow_run_id else None,
            "contact_id": str(payment.contact_id) if payment.contact_id else None,
            "amount": payment.amount,
            "currency": payment.currency,
        }
        await emit(session, "payment.completed", payment.id, "bot", payment.bot_id, data)


async def channel_event(session: AsyncSession, channel: Channel) -> None:
    """`bot.connected` when a channel is added, `bot.disconnected` when it is stopped."""
    event_type = "bot.connected" if channel.is_active else "bot.disconnected"
    data = {"channel_id": str(channel.id), "kind": channel.kind, "name": channel.name}
    await emit(session, event_type, channel.id, "bot", channel.bot_id, data)


def wake_after_commit(session: AsyncSession, endpoint_ids: list[uuid.UUID]) -> None:
    """Have these endpoints' delivery workflows woken once the transaction commits."""
    if endpoint_ids:
        session.info.setdefault(WAKE_KEY, set()).update(str(id) for id in endpoint_ids)


_waker: Callable[[set[str]], None] | None = None


def on_commit(waker: Callable[[set[str]], None]) -> None:
    """Call `waker` with the endpoints that committed transactions gave new deliveries."""
    global _waker
    _waker = waker
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)


def _after_commit(session: Session) -> None:
    endpoints = session.info.pop(WAKE_KEY, None)
    if endpoints and _waker is not None:
        _waker(endpoints)


def _after_rollback(session: Session) -> None:
    session.info.pop(WAKE_KEY, None)
