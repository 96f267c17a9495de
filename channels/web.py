"""The web channel: the stored outbound message is the delivery; clients read or stream it."""

from __future__ import annotations

from typing import Any

from models.messages import OutboundMessage


class WebChannel:
    """Web chat: nothing to call; `GET .../messages` and the SSE stream serve the replies."""

    async def send(
        self, contact_external_id: str, message: OutboundMessage,
        config: dict[str, Any], secrets: dict[str, Any],
    ) -> str | None:  # fmt: skip
        return None
