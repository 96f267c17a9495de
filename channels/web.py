"""The web channel: the stored outbound message is the delivery; clients read or stream it."""

from __future__ import annotations

from channels.base import ChannelAccess
from models.messages import OutboundMessage


class WebChannel:
    """Web chat: nothing to call; `GET .../messages` and the SSE stream serve the replies."""

    async def send(self, channel: ChannelAccess, to: str, message: OutboundMessage) -> str | None:
        return None

    def pace_key(self, channel: ChannelAccess) -> str | None:
        return None

    def needs_open_window(self, channel: ChannelAccess) -> bool:
        return False
