"""The API's Prometheus metrics: requests by route and status, webhook outcomes, ingress latency."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "botbuilder_api_requests",
    "HTTP requests answered by the API, by route template, method and status code.",
    ["route", "method", "status"],
)
WEBHOOKS = Counter(
    "botbuilder_webhook_requests",
    "Posts from a channel (provider webhooks, web-channel messages) by channel and outcome.",
    ["channel", "outcome"],
)
INGRESS_SECONDS = Histogram(
    "botbuilder_ingress_seconds",
    "Time to accept an inbound message post: from the request to the answer, which is sent "
    "once the message is durable with Temporal.",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# POST routes carrying messages or statuses from a channel: (channel kind, carries messages).
CHANNEL_ROUTES = {
    "/channels/web/{channel_id}/messages": ("web", True),
    "/channels/whatsapp/{channel_id}/webhook": ("whatsapp_cloud", True),
    "/channels/twilio/{channel_id}/webhook": ("twilio", True),
    "/channels/twilio/{channel_id}/status": ("twilio", False),
}
OUTCOMES = {
    400: "bad_payload",
    401: "bad_signature",
    403: "refused",
    404: "unknown_channel",
    413: "too_large",
    422: "bad_payload",
    503: "engine_unavailable",
}


def webhook_outcome(status: int) -> str:
    """What a channel post's status code means for an operator."""
    if status < 300:
        return "accepted"
    return OUTCOMES.get(status, "error")


class MetricsMiddleware:
    """Counts every HTTP request by its route template (never the raw path, which holds ids)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            observe(scope, status, time.perf_counter() - started)


def observe(scope: dict[str, Any], status: int, seconds: float) -> None:
    route = getattr(scope.get("route"), "path", None) or "unmatched"
    method = scope["method"]
    REQUESTS.labels(route, method, str(status)).inc()
    channel_route = CHANNEL_ROUTES.get(route) if method == "POST" else None
    if channel_route is not None:
        channel, carries_messages = channel_route
        WEBHOOKS.labels(channel, webhook_outcome(status)).inc()
        if carries_messages and status < 300:
            INGRESS_SECONDS.labels(channel).observe(seconds)


async def metrics_endpoint() -> Response:
    """Every API metric in the Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
