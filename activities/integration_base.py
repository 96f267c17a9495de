"""What integration activities share: the organization's credentials, and permanent failures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError

from models.payloads.integrations import PERMANENT_INTEGRATION_ERROR
from models.secret_box import SecretBox
from models.settings import Settings
from services.integrations.credentials import IntegrationMissing, credentials_for_bot


def permanent(message: str) -> ApplicationError:
    """A failure that retrying cannot fix: the node leaves by `error` at once."""
    return ApplicationError(message, type=PERMANENT_INTEGRATION_ERROR, non_retryable=True)


def retryable(message: str, after: timedelta | None = None) -> ApplicationError:
    """A temporary failure: Temporal retries it with backoff (or `after` this long, as the
    service asked), within the node's budget."""
    return ApplicationError(message, type="RetryableIntegrationError", next_retry_delay=after)


class IntegrationActivities:
    """Base of the integration activities: database sessions, the secret box and the settings."""

    kind: str

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], box: SecretBox, settings: Settings
    ) -> None:
        self.sessions, self.box, self.settings = sessions, box, settings

    async def credentials(
        self, bot_id: str, kind: str | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(config, secrets) of the bot's organization for `kind` (default: the class's); a
        permanent failure when the organization has not set it up."""
        async with self.sessions() as session:
            try:
                return await credentials_for_bot(session, self.box, bot_id, kind or self.kind)
            except IntegrationMissing as missing:
                raise permanent(f"{missing}: set it with the setIntegration mutation") from None
