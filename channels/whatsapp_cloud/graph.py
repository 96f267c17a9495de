"""The Graph API calls of a WhatsApp channel, with Meta's error codes mapped to behaviour."""

from __future__ import annotations

from typing import Any

import httpx

from channels.base import PermanentSendError, RetryableSendError, SendError
from channels.http_pool import shared_client

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
            response = await shared_client().post(url, json=body, headers=self.headers)
        except httpx.HTTPError as err:
            raise RetryableSendError(f"Graph API unreachable: {err!r}") from err
        if response.is_success:
            return response.json()
        raise graph_error(response)

    async def media(self, media_id: str) -> tuple[bytes, str]:
        """The bytes and MIME type of an inbound media (its Graph object, then its URL)."""
        client = shared_client()
        info = await client.get(f"{self.root}/{media_id}", headers=self.headers)
        if not info.is_success:
            raise graph_error(info)
        download = await client.get(info.json()["url"], headers=self.headers)
        if not download.is_success:
            raise graph_error(download)
        return download.content, info.json().get("mime_type", "application/octet-stream")


def graph_error(response: httpx.Response) -> SendError:
    """Meta's `{"error": {"code", "message", "error_data"}}` as a retryable or permanent error."""
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    code = error.get("code")
    details = (error.get("error_data") or {}).get("details")
    text = f"WhatsApp error {code}: {details or error.get('message') or response.reason_phrase}"
    if code == WINDOW_CLOSED_CODE:
        return PermanentSendError(f"{text} (outside the 24-hour customer-service window)", code)
    if code in RETRYABLE_CODES or response.status_code == 429 or response.status_code >= 500:
        return RetryableSendError(text, code if code is not None else response.status_code)
    return PermanentSendError(text, code if code is not None else response.status_code)
