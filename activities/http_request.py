"""The `http_request` activity used by api/webhook nodes: real HTTP with classified failures,
only to public addresses (`outbound.guard`), reading at most `MAX_RESPONSE_BYTES`."""

from __future__ import annotations

import json

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from flowlang.node_base import HttpRequest, HttpResponse
from models.payloads import activity_names
from models.settings import Settings
from outbound.guard import (
    OutboundPolicy,
    OutboundRefused,
    ResponseTooLarge,
    guarded_client,
    read_capped,
)

MAX_RESPONSE_BYTES = 1_000_000
PERMANENT = "PermanentHttpError"


class HttpRequester:
    """Makes flows' HTTP calls under the operator's outbound policy."""

    def __init__(self, settings: Settings) -> None:
        self.policy = OutboundPolicy.parse(settings.outbound_allowed_hosts)

    @activity.defn(name=activity_names.HTTP_REQUEST)
    async def http_request(self, request: HttpRequest) -> HttpResponse:
        """Send the request. A refused address, a 4xx or an oversized body fail for good; a 5xx,
        429 or network error is retried."""
        try:
            async with (
                guarded_client(self.policy, timeout=request.timeout_seconds) as client,
                client.stream(
                    request.method.upper(),
                    request.url,
                    headers=request.headers,
                    json=request.json_body if request.json_body is not None else None,
                    content=request.body if request.json_body is None else None,
                ) as response,
            ):
                return await _answer(response)
        except (OutboundRefused, ResponseTooLarge) as err:
            raise ApplicationError(str(err), type=PERMANENT, non_retryable=True) from err
        except httpx.HTTPError as err:
            raise ApplicationError(
                f"{type(err).__name__}: {err}", type="HttpTransportError"
            ) from err


async def _answer(response: httpx.Response) -> HttpResponse:
    """The response classified by status, its body decoded (JSON when it parses, else text)."""
    if response.status_code == 429 or response.status_code >= 500:
        raise ApplicationError(f"HTTP {response.status_code}", type="RetryableHttpError")
    content = await read_capped(response, MAX_RESPONSE_BYTES)
    if response.status_code >= 400:
        raise ApplicationError(
            f"HTTP {response.status_code}: {content[:200].decode(errors='replace')}",
            type=PERMANENT,
            non_retryable=True,
        )
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = content.decode(response.encoding or "utf-8", errors="replace")
    return HttpResponse(status=response.status_code, headers=dict(response.headers), body=body)
