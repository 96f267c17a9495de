"""Signed incoming triggers: a flow's own `whsec_` secret, and checking a request signed with it
per the Standard Webhooks specification (`webhook-id`, `webhook-timestamp`, `webhook-signature`:
`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`), within `TOLERANCE` of now and once per
`webhook-id` that was acted on."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.bot_tables import Bot
from models.errors import Conflict, InvalidInput, Unauthenticated
from models.flow_tables import Flow
from models.secret_box import SecretBox
from models.trigger_tables import AcceptedTriggerId, FlowTriggerSecret
from services.webhooks.rules import new_secret, signature

TOLERANCE = timedelta(minutes=5)
# An accepted id is kept while a replay of it could still carry a timestamp within tolerance.
KEEP_IDS = 2 * TOLERANCE
MAX_ID = 200
SIGNED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


async def rotate(session: AsyncSession, box: SecretBox, flow: Flow) -> tuple[datetime, str]:
    """A new secret for the flow's triggers (a previous one stops working now): when it was
    made, and the secret itself, in clear this once."""
    secret = new_secret()
    row = await session.get(FlowTriggerSecret, flow.id)
    if row is None:
        row = FlowTriggerSecret(flow_id=flow.id)
        session.add(row)
    row.secret_encrypted = box.encrypt({"secret": secret})
    row.created_at = datetime.now(UTC)
    await session.flush()
    return row.created_at, secret


def is_signed(headers: Mapping[str, str]) -> bool:
    """Whether a request claims a signature (then it is checked, and credentials are not)."""
    return "webhook-signature" in headers


async def verify(
    session: AsyncSession,
    box: SecretBox,
    flow_id: uuid.UUID,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> uuid.UUID:
    """The organization of a flow whose secret signed this request, accepting its `webhook-id`
    (committed with `session`). Raises `Unauthenticated` for a missing or wrong signature or a
    timestamp off by more than `TOLERANCE`, and `Conflict` for an id accepted before."""
    missing = [name for name in SIGNED_HEADERS if not headers.get(name)]
    if missing:
        raise Unauthenticated(f"a signed trigger needs the headers {', '.join(missing)}")
    webhook_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
    if len(webhook_id) > MAX_ID:
        raise InvalidInput(f"webhook-id is longer than {MAX_ID} characters")
    if not stamp.isdigit() or abs(now.timestamp() - int(stamp)) > TOLERANCE.total_seconds():
        raise Unauthenticated("webhook-timestamp is not within 5 minutes of the server's clock")
    row = (
        await session.execute(
            select(FlowTriggerSecret, Bot.organization_id)
            .join(Flow, Flow.id == FlowTriggerSecret.flow_id)
            .join(Bot, Bot.id == Flow.bot_id)
            .where(FlowTriggerSecret.flow_id == flow_id)
        )
    ).first()
    if row is None:
        raise Unauthenticated("this flow has no trigger secret")
    expected = signature(
        box.decrypt(row[0].secret_encrypted)["secret"], webhook_id, int(stamp), body
    )
    offered = headers["webhook-signature"].split()
    if not any(hmac.compare_digest(given, expected) for given in offered):
        raise Unauthenticated("the webhook-signature does not match the flow's trigger secret")
    await session.execute(
        delete(AcceptedTriggerId).where(
            AcceptedTriggerId.flow_id == flow_id, AcceptedTriggerId.received_at < now - KEEP_IDS
        )
    )
    accepted = await session.scalar(
        insert(AcceptedTriggerId)
        .values(flow_id=flow_id, webhook_id=webhook_id, received_at=now)
        .on_conflict_do_nothing()
        .returning(AcceptedTriggerId.webhook_id)
    )
    if accepted is None:
        raise Conflict("this webhook-id was already accepted: sign each request with a new id")
    return row[1]


async def forget(session: AsyncSession, flow_id: uuid.UUID, webhook_id: str) -> None:
    """Let a signed request be sent again under its id: what it asked for was refused, and a
    Standard Webhooks sender retries a message with the same id until it is accepted."""
    await session.execute(
        delete(AcceptedTriggerId).where(
            AcceptedTriggerId.flow_id == flow_id, AcceptedTriggerId.webhook_id == webhook_id
        )
    )
