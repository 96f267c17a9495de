"""The one interface every channel adapter implements for outbound messages."""

from __future__ import annotations

from typing import Any, Protocol

from models.messages import OutboundMessage


class PermanentSendError(Exception):
    """The provider refused the message for good (bad recipient, revoked token ...)."""


class ChannelAdapter(Protocol):
    """Sends a channel-neutral message to a contact; returns the provider's message id."""

    async def send(
        self, contact_external_id: str, message: OutboundMessage,
        config: dict[str, Any], secrets: dict[str, Any],
    ) -> str | None: ...  # fmt: skip
