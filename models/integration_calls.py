"""What integration nodes ask their activities (email, SMS, ...) and what they get back.

The flow run fills `bot_id` (whose organization's credentials are used) and `idempotency_key`
(the run's workflow id and step number: stable across retries, replays and continue-as-new).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

PERMANENT_INTEGRATION_ERROR = "PermanentIntegrationError"


class IntegrationCall(BaseModel):
    """Common to every integration request: who asks, the key, and the retry budget."""

    bot_id: str = ""
    idempotency_key: str = ""
    timeout_seconds: float = 30.0
    retries: int = 3


class EmailRequest(IntegrationCall):
    to: list[str]
    cc: list[str] = Field(default_factory=list)
    bcc: list[str] = Field(default_factory=list)
    reply_to: list[str] = Field(default_factory=list)
    subject: str
    text: str
    html: str | None = None


class EmailSent(BaseModel):
    """The `Message-ID` header of the sent email and the recipients the server refused."""

    message_id: str
    refused: list[str] = Field(default_factory=list)


class SmsRequest(IntegrationCall):
    to: str
    body: str


class SmsSent(BaseModel):
    """Twilio's message SID and its first status."""

    sid: str
    status: str
