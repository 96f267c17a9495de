"""The one interface every channel adapter implements, and what adapters hand to the platform."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from models.messages import InboundMessage, OutboundMessage

DeliveryStatus = Literal["sent", "delivered", "read", "failed"]


class SendError(Exception):
    """The provider did not take the message; `code` is the provider's error code."""

    def __init__(self, message: str, code: str | int | None = None) -> None:
        super().__init__(message)
        self.code = code

    def record(self) -> dict[str, Any]:
        """The error as stored on the message."""
        return {"message": str(self), "code": self.code}


class PermanentSendError(SendError):
    """The provider refused the message for good (bad recipient, revoked token ...)."""


class RetryableSendError(SendError):
    """The provider is busy or rate-limits us: try again later, with backoff."""


@dataclass(frozen=True)
class ChannelAccess:
    """A channel as adapters see it: its id, plain config and decrypted secrets."""

    id: str
    kind: str
    config: dict[str, Any]
    secrets: dict[str, Any]


@dataclass(frozen=True)
class InboundDelivery:
    """One parsed inbound message and who sent it (`contact_id`: phone number or session id)."""

    contact_id: str
    message: InboundMessage
    contact_name: str | None = None


@dataclass(frozen=True)
class StatusUpdate:
    """A provider's delivery report for a message we sent."""

    provider_message_id: str
    status: DeliveryStatus
    error: dict[str, Any] | None = None


@dataclass
class ParsedWebhook:
    """Everything one webhook request carried, in the order the provider sent it."""

    messages: list[InboundDelivery] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)


class ChannelAdapter(Protocol):
    """Sends a channel-neutral message to a contact; returns the provider's message id."""

    async def send(self, channel: ChannelAccess, to: str, message: OutboundMessage) -> str | None:
        """Raises `PermanentSendError` or `RetryableSendError` when the provider refuses."""
        ...

    def pace_key(self, channel: ChannelAccess) -> str | None:
        """The sender number whose sends are paced together (None: not paced)."""
        ...

    def needs_open_window(self, channel: ChannelAccess) -> bool:
        """Whether only templates may be sent 24 hours after the contact's last message."""
        ...
