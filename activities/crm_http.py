"""What the HTTP CRM clients (HubSpot, Pipedrive) share: one JSON call, errors classified.

Rate limits (429, honouring `Retry-After`), 5xx and network errors are retried; other 4xx fail
for good, with the service's own message.
"""

from __future__ import annotations

from typing import Any

import httpx
from temporalio.exceptions import ApplicationError

from activities.ai_completion import retry_after_delay
from activities.integration_base import permanent, retryable


async def call(
    client: httpx.AsyncClient, service: str, method: str, path: str, **kwargs: Any
) -> tuple[int, Any]:
    """(status, decoded JSON body) of a call answered 2xx or 404; raises `ApplicationError`."""
    try:
        response = await client.request(method, path, **kwargs)
    except httpx.HTTPError as err:
        raise retryable(f"{service} unreachable: {err!r}") from err
    body = response.json() if response.content else None
    if response.is_success or response.status_code == 404:
        return response.status_code, body
    raise refusal(service, response.status_code, body, response.headers.get("retry-after"))


def refusal(service: str, status: int, body: Any, retry_after: str | None) -> ApplicationError:
    detail = body.get("message") or body.get("error") if isinstance(body, dict) else body
    message = f"{service} answered {status}: {detail}"
    if status == 429 or status >= 500:
        return retryable(message, after=retry_after_delay(retry_after))
    return permanent(message)
