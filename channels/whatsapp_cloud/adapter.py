"""`WhatsAppCloudChannel`: sends through the Graph API of the channel's phone number."""

from __future__ import annotations

from channels.base import ChannelAccess
from channels.whatsapp_cloud.graph import GraphApi
from channels.whatsapp_cloud.outbound import message_body, read_receipt
from models.messages import OutboundMessage
from models.settings import Settings


class WhatsAppCloudChannel:
    """The WhatsApp Cloud API; the Graph base URL and version come from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.whatsapp_graph_url
        self.version = settings.whatsapp_graph_version

    def graph(self, channel: ChannelAccess) -> GraphApi:
        return GraphApi(self.base_url, self.version, channel.secrets["access_token"])

    def media_root(self) -> str:
        """Where inbound media objects live: `{media_root}/{media_id}`."""
        return f"{self.base_url.rstrip('/')}/{self.version}"

    async def send(self, channel: ChannelAccess, to: str, message: OutboundMessage) -> str | None:
        answer = await self.graph(channel).post_message(
            channel.config["phone_number_id"], message_body(to, message)
        )
        return answer["messages"][0]["id"]

    async def mark_read(self, channel: ChannelAccess, provider_message_id: str) -> None:
        await self.graph(channel).post_message(
            channel.config["phone_number_id"], read_receipt(provider_message_id)
        )

    def pace_key(self, channel: ChannelAccess) -> str | None:
        return f"whatsapp:{channel.config['phone_number_id']}"

    def needs_open_window(self, channel: ChannelAccess) -> bool:
        return True
