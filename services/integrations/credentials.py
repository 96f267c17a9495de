"""Each organization's integration credentials: set, replace, delete, list, and open for use."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from models.bot_tables import Bot
from models.conversation_tables import Conversation, FlowRun, FlowRunStep
from models.integration_config import checked_integration
from models.integration_tables import IntegrationCredential
from models.secret_box import SecretBox


class IntegrationMissing(LookupError):
    """The organization has not configured this integration."""


async def list_integrations(
    session: AsyncSession, organization_id: uuid.UUID
) -> list[IntegrationCredential]:
    rows = await session.scalars(
        select(IntegrationCredential)
        .where(IntegrationCredential.organization_id == organization_id)
        .order_by(IntegrationCredential.kind)
    )
    return list(rows)


async def set_integration(
    session: AsyncSession,
    box: SecretBox,
    organization_id: uuid.UUID,
    kind: str,
    config: dict[str, Any],
    secrets: dict[str, Any] | None,
) -> IntegrationCredential:
    """Create or replace the kind's settings; `secrets` None keeps the stored ones."""
    row = await session.scalar(
        select(IntegrationCredential)
        .where(
            IntegrationCredential.organization_id == organization_id,
            IntegrationCredential.kind == kind,
        )
        .with_for_update()
    )
    if secrets is None:
        secrets = box.decrypt(row.secrets_encrypted) if row and row.secrets_encrypted else {}
    config, secrets = checked_integration(kind, config, secrets)
    sealed = box.encrypt(secrets) if secrets else None
    if row is None:
        row = IntegrationCredential(organization_id=organization_id, kind=kind)
        session.add(row)
    row.config, row.secrets_encrypted = config, sealed
    await session.flush()
    await session.refresh(row)
    return row


async def delete_integration(session: AsyncSession, organization_id: uuid.UUID, kind: str) -> bool:
    """Forget the kind's settings and secrets; False when none were set."""
    deleted = await session.execute(
        delete(IntegrationCredential)
        .where(
            IntegrationCredential.organization_id == organization_id,
            IntegrationCredential.kind == kind,
        )
        .returning(IntegrationCredential.id)
    )
    return deleted.first() is not None


async def credentials_for_bot(
    session: AsyncSession, box: SecretBox, bot_id: str, kind: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (config, decrypted secrets) of the bot's organization for `kind`.

    Raises `IntegrationMissing` when the organization has not set it up.
    """
    organization_id = await organization_of_bot(session, bot_id)
    return await credentials_for_organization(session, box, organization_id, kind)


async def credentials_for_organization(
    session: AsyncSession, box: SecretBox, organization_id: uuid.UUID, kind: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (config, decrypted secrets) of the organization for `kind` (`IntegrationMissing`)."""
    row = await session.scalar(
        select(IntegrationCredential).where(
            IntegrationCredential.organization_id == organization_id,
            IntegrationCredential.kind == kind,
        )
    )
    if row is None:
        raise IntegrationMissing(f"the organization has no {kind} integration configured")
    secrets = box.decrypt(row.secrets_encrypted) if row.secrets_encrypted else {}
    return row.config, secrets


async def organization_of_bot(session: AsyncSession, bot_id: str) -> uuid.UUID:
    """The bot's organization; `IntegrationMissing` when the bot is gone."""
    organization_id = await session.scalar(
        select(Bot.organization_id).where(Bot.id == uuid.UUID(bot_id))
    )
    if organization_id is None:
        raise IntegrationMissing("the bot no longer exists")
    return organization_id


async def record_sms_status(
    session: AsyncSession,
    organization_id: uuid.UUID,
    sid: str,
    status: str,
    error: dict[str, Any] | None,
) -> bool:
    """Put Twilio's latest word on an `sms` step's output; False when no step of the
    organization sent that SID."""
    runs = (
        select(FlowRun.id)
        .join(Conversation, Conversation.id == FlowRun.conversation_id)
        .join(Bot, Bot.id == Conversation.bot_id)
        .where(Bot.organization_id == organization_id)
    )
    patch = {"status": status, **({"delivery_error": error} if error else {})}
    changed = await session.execute(
        update(FlowRunStep)
        .where(
            FlowRunStep.node_type == "sms",
            FlowRunStep.output["sid"].astext == sid,
            FlowRunStep.flow_run_id.in_(runs),
        )
        .values(output=FlowRunStep.output.op("||")(literal(patch, type_=JSONB)))
        .returning(FlowRunStep.id)
    )
    return changed.first() is not None
