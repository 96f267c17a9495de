"""The Graph API calls of a WhatsApp channel, with Meta's error codes mapped to behaviour."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import aiohttp

from channels.base import PermanentSendError, RetryableSendError, SendError
from channels.http_pool import shared_session

# Throughput, pair rate, spam rate, app/account rate limits, and temporary service errors.
RETRYABLE_CODES = {130429, 131056, 131048, 80007, 4, 17, 32, 613, 1, 2, 131000, 133004}
WINDOW_CLOSED_CODE = 131047


class GraphApi:
    """`POST /{version}/{phone_number_id}/messages` and media look-ups, for one access token."""

    def __init__(self, base_url: str, version: str, access_token: str) -> None:
        self.root = f"{base_url.rstrip('/')}/{version}"
        self.headers = {"Authorization": f"Bearer {access_token}"}

    async def post_message(self, phone_number_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """The Graph answer (`{"messages": [{"id": ...}]}`); raises a `SendError` on refusal."""
        url = f"{self.root}/{phone_number_id}/messages"
        try:
            async with shared_session().post(url, json=body, headers=self.headers) as response:
                status, content = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as err:
            raise RetryableSendError(f"Graph API unreachable: {err!r}") from err
        if status < 300:
            return json.loads(content)
        raise graph_error(status, content)

    async def media(self, media_id: str) -> tuple[bytes, str]:
        """The bytes and MIME type of an inbound media (its Graph object, then its URL)."""
        session = shared_session()
        async with session.get(f"{self.root}/{media_id}", headers=self.headers) as response:
            status, content = response.status, await response.read()
        if status >= 300:
            raise graph_error(status, content)
        info = json.loads(content)
        async with session.get(info["url"], headers=self.headers) as response:
            status, content = response.status, await response.read()
        if status >= 300:
            raise graph_error(status, content)
        return content, info.get("mime_type", "application/octet-stream")


def graph_error(status: int, content: bytes) -> SendError:
    """Meta's `{"error": {"code", "message", "error_data"}}` (an HTTP `status` answer) as a
    retryable or permanent error."""
    try:
        error = json.loads(content).get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    code = error.get("code")
    details = (error.get("error_data") or {}).get("details")
    text = f"WhatsApp error {code}: {details or error.get('message') or reason_phrase(status)}"
    if code == WINDOW_CLOSED_CODE:
        return PermanentSendError(f"{text} (outside the 24-hour customer-service window)", code)
    if code in RETRYABLE_CODES or status == 429 or status >= 500:
        return RetryableSendError(text, code if code is not None else status)
    return PermanentSendError(text, code if code is not None else status)


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return str(status)
