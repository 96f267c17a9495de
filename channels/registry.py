"""Maps a channel kind to its adapter, configured by the settings (provider base URLs)."""

from __future__ import annotations

from channels.base import ChannelAdapter
from channels.twilio.adapter import TwilioChannel
from channels.web import WebChannel
from channels.whatsapp_cloud.adapter import WhatsAppCloudChannel
from models.settings import Settings


def build_adapters(settings: Settings) -> dict[str, ChannelAdapter]:
    """One adapter per channel kind."""
    return {
        "web": WebChannel(),
        "whatsapp_cloud": WhatsAppCloudChannel(settings),
        "twilio": TwilioChannel(settings),
    }
