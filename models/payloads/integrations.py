"""What integration nodes ask their activities (email, SMS, ...) and what they get back.

The flow run fills who asks (`bot_id`: whose organization's credentials are used; the contact;
the run) and `idempotency_key` (the run's workflow id and step number: stable across retries,
replays and continue-as-new).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

PERMANENT_INTEGRATION_ERROR = "PermanentIntegrationError"


class IntegrationCall(BaseModel):
    """Common to every integration request: who asks, the key, and the retry budget."""

    bot_id: str = ""
    contact_id: str = ""
    flow_run_id: str = ""  # the run's row in `flow_runs`
    run_workflow_id: str = ""
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


class PaymentRequest(IntegrationCall):
    """A Stripe Checkout Session for `amount` (minor units) of `currency`, or for a Stripe
    price; the Checkout page stays open `open_minutes` (Stripe allows 30 to 1440)."""

    amount: int | None = None
    currency: str | None = None
    description: str = ""
    price_id: str | None = None
    quantity: int = 1
    open_minutes: int = 60


class PaymentLink(BaseModel):
    """The stored payment and the Checkout page the contact pays on."""

    payment_id: str
    url: str
    session_id: str


class PaymentExpiry(IntegrationCall):
    """Close the Checkout page of a payment whose wait timed out."""

    payment_id: str


class PaymentOutcome(BaseModel):
    """Sent to the flow run when Stripe says a payment settled: `paid`, `failed` or `expired`."""

    payment_id: str
    status: str


class CrmDeal(BaseModel):
    """A deal (HubSpot, Pipedrive) or opportunity (Salesforce) for the synced record."""

    name: str
    amount: float | None = None
    currency: str | None = None
    stage: str | None = None


class CrmRequest(IntegrationCall):
    """Create or update the contact's record in a CRM; `fields` are the CRM's own field names."""

    provider: str
    email: str = ""
    phone: str = ""
    fields: dict[str, str] = Field(default_factory=dict)
    deal: CrmDeal | None = None


class CrmSynced(BaseModel):
    """The CRM's record id, whether this call created it, and the deal it created (if any)."""

    record_id: str
    created: bool
    deal_id: str | None = None
