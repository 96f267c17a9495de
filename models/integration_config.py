"""What each integration kind needs per organization: plain settings and write-only secrets.

`config` is stored as plain JSON and may be shown by the API; `secrets` are stored encrypted
(`models.secret_box`) and are never returned by any API.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.email_addresses import EmailAddress
from models.errors import checked_settings

IntegrationKind = Literal["smtp", "twilio_sms", "stripe", "salesforce", "hubspot", "pipedrive"]
INTEGRATION_KINDS: tuple[IntegrationKind, ...] = (
    "smtp",
    "twilio_sms",
    "stripe",
    "salesforce",
    "hubspot",
    "pipedrive",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SmtpConfig(_Strict):
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="`tls`: implicit TLS (port 465); `none`: a local relay."
    )
    username: str | None = Field(default=None, max_length=255)
    from_address: EmailAddress
    from_name: str | None = Field(default=None, max_length=255)
    timeout_seconds: float = Field(default=20, gt=0, le=120)


class SmtpSecrets(_Strict):
    password: str | None = None


class TwilioSmsConfig(_Strict):
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    from_number: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{6,14}$")
    messaging_service_sid: str | None = Field(default=None, pattern=r"^MG[0-9a-fA-F]{32}$")

    @model_validator(mode="after")
    def _one_sender(self) -> Self:
        if not (self.from_number or self.messaging_service_sid):
            raise ValueError("give from_number or messaging_service_sid")
        return self


class TwilioSmsSecrets(_Strict):
    auth_token: str = Field(min_length=1)


class StripeConfig(_Strict):
    success_url: str = Field(default="https://stripe.com", min_length=1, max_length=2000)
    cancel_url: str | None = Field(default=None, max_length=2000)


class StripeSecrets(_Strict):
    secret_key: str = Field(pattern=r"^(sk|rk)_(test|live)_[A-Za-z0-9]+$")
    webhook_secret: str = Field(pattern=r"^whsec_[A-Za-z0-9+/=]+$")


class SalesforceConfig(_Strict):
    username: str = Field(min_length=1, max_length=255)
    domain: str = Field(default="login", pattern=r"^[A-Za-z0-9.-]+$")


class SalesforceSecrets(_Strict):
    password: str = Field(min_length=1)
    security_token: str = ""


class HubSpotConfig(_Strict):
    """HubSpot needs only a private app's token."""


class HubSpotSecrets(_Strict):
    access_token: str = Field(min_length=1)


class PipedriveConfig(_Strict):
    """Pipedrive needs only an API token."""


class PipedriveSecrets(_Strict):
    api_token: str = Field(min_length=1)


CONFIG_MODELS: dict[str, type[BaseModel]] = {
    "smtp": SmtpConfig,
    "twilio_sms": TwilioSmsConfig,
    "stripe": StripeConfig,
    "salesforce": SalesforceConfig,
    "hubspot": HubSpotConfig,
    "pipedrive": PipedriveConfig,
}
SECRET_MODELS: dict[str, type[BaseModel]] = {
    "smtp": SmtpSecrets,
    "twilio_sms": TwilioSmsSecrets,
    "stripe": StripeSecrets,
    "salesforce": SalesforceSecrets,
    "hubspot": HubSpotSecrets,
    "pipedrive": PipedriveSecrets,
}


def checked_integration(
    kind: str, config: dict[str, Any], secrets: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Config and secrets validated for the kind, or every problem in one `InvalidInput`."""
    return checked_settings(kind, (CONFIG_MODELS[kind], config), (SECRET_MODELS[kind], secrets))


def sms_status_url(public_url: str, organization_id: str) -> str:
    """Where Twilio reports the delivery of the `sms` node's messages."""
    return f"{public_url.rstrip('/')}/webhooks/twilio-sms/{organization_id}/status"
