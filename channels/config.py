"""What each channel kind needs: its plain configuration, its secrets and its webhook URLs.

`config` is stored as plain JSON and may be shown by the API; `secrets` are stored encrypted
(`models.secret_box`) and are never returned by any API.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ChannelKind = Literal["whatsapp_cloud", "twilio", "web"]
CHANNEL_KINDS: tuple[ChannelKind, ...] = ("whatsapp_cloud", "twilio", "web")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TemplateRef(_Strict):
    """An approved WhatsApp message template, by name and language code."""

    name: str = Field(min_length=1, max_length=512)
    language: str = Field(default="en_US", min_length=2, max_length=15)


class WhatsAppCloudConfig(_Strict):
    phone_number_id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9]+$")
    business_account_id: str | None = Field(default=None, max_length=64)
    reengagement_template: TemplateRef | None = Field(
        default=None, description="Sent when the 24-hour window is closed; none: refuse."
    )
    messages_per_second: int | None = Field(default=None, ge=1, le=1000)


class WhatsAppCloudSecrets(_Strict):
    access_token: str = Field(min_length=1)
    app_secret: str = Field(min_length=1)
    verify_token: str = Field(min_length=1)


class TwilioConfig(_Strict):
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    from_number: str = Field(
        pattern=r"^(whatsapp:)?\+[1-9][0-9]{6,14}$",
        description="`whatsapp:+15550001111` for WhatsApp, `+15550001111` for SMS.",
    )
    messages_per_second: int | None = Field(default=None, ge=1, le=1000)

    @property
    def is_whatsapp(self) -> bool:
        return self.from_number.startswith("whatsapp:")


class TwilioSecrets(_Strict):
    auth_token: str = Field(min_length=1)


class WebConfig(_Strict):
    """The web channel needs no configuration."""


class NoSecrets(_Strict):
    """The web channel has no secrets."""


CONFIG_MODELS: dict[str, type[BaseModel]] = {
    "whatsapp_cloud": WhatsAppCloudConfig,
    "twilio": TwilioConfig,
    "web": WebConfig,
}
SECRET_MODELS: dict[str, type[BaseModel]] = {
    "whatsapp_cloud": WhatsAppCloudSecrets,
    "twilio": TwilioSecrets,
    "web": NoSecrets,
}


def webhook_urls(public_url: str, kind: str, channel_id: str) -> dict[str, str]:
    """The URLs a provider must be configured with for this channel, by purpose."""
    base = public_url.rstrip("/")
    if kind == "whatsapp_cloud":
        return {"webhook": f"{base}/channels/whatsapp/{channel_id}/webhook"}
    if kind == "twilio":
        return {
            "webhook": f"{base}/channels/twilio/{channel_id}/webhook",
            "status_callback": f"{base}/channels/twilio/{channel_id}/status",
        }
    if kind == "web":
        return {"messages": f"{base}/channels/web/{channel_id}/messages"}
    raise ValueError(f"unknown channel kind {kind!r}; expected one of {', '.join(CHANNEL_KINDS)}")
