"""The `http_request` activity used by api/webhook nodes: real HTTP with classified failures."""

from __future__ import annotations

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from workflows import activity_names
from workflows.nodes.base import HttpRequest, HttpResponse

MAX_RESPONSE_BYTES = 1_000_000


@activity.defn(name=activity_names.HTTP_REQUEST)
async def http_request(request: HttpRequest) -> HttpResponse:
    """Send the request. A 4xx fails for good; a 5xx, 429 or network error is retried."""
    async with httpx.AsyncClient(timeout=request.timeout_seconds) as client:
        try:
            response = await client.request(
                request.method.upper(), request.url, headers=request.headers,
                json=request.json_body if request.json_body is not None else None,
                content=request.body if request.json_body is None else None,
            )  # fmt: skip
        except httpx.HTTPError as err:
            raise ApplicationError(
                f"{type(err).__name__}: {err}", type="HttpTransportError"
            ) from err
    if response.status_code == 429 or response.status_code >= 500:
        raise ApplicationError(f"HTTP {response.status_code}", type="RetryableHttpError")
    if response.status_code >= 400:
        raise ApplicationError(
            f"HTTP {response.status_code}: {response.text[:200]}",
            type="PermanentHttpError", non_retryable=True,
        )  # fmt: skip
    content = response.content[:MAX_RESPONSE_BYTES]
    try:
        body = response.json() if content else None
    except ValueError:
        body = content.decode(errors="replace")
    return HttpResponse(status=response.status_code, headers=dict(response.headers), body=body)
