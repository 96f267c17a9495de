"""Channel configuration models and the webhook URLs shown to users."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from channels.config import TwilioConfig, WhatsAppCloudConfig, webhook_urls


def test_webhook_urls_per_kind():
    assert webhook_urls("https://bots.example.com/", "whatsapp_cloud", "c1") == {
        "webhook": "https://bots.example.com/channels/whatsapp/c1/webhook"
    }
    assert webhook_urls("https://b.example", "twilio", "c2")["status_callback"] == (
        "https://b.example/channels/twilio/c2/status"
    )
    with pytest.raises(ValueError, match="unknown channel kind 'fax'"):
        webhook_urls("https://b.example", "fax", "c3")


def test_twilio_sender_kind_and_bad_configs():
    assert TwilioConfig(
        account_sid="AC" + "0" * 32, from_number="whatsapp:+15550001111"
    ).is_whatsapp
    assert not TwilioConfig(account_sid="AC" + "a" * 32, from_number="+15550001111").is_whatsapp
    with pytest.raises(ValidationError):
        TwilioConfig(account_sid="nope", from_number="+15550001111")
    with pytest.raises(ValidationError):
        WhatsAppCloudConfig(phone_number_id="12", access_token="leaked-into-config")
