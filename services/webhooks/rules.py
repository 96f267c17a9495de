"""Rules of outgoing webhooks: Standard Webhooks signing, the retry schedule, allowed URLs, and
the payloads the delivery workflow and its activity exchange."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import secrets
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from pydantic import BaseModel

from models.errors import InvalidInput
from outbound.guard import OutboundPolicy, OutboundRefused, check_url

SECRET_PREFIX = "whsec_"
# When each attempt is made, counted from the previous one's failure (the first is immediate).
RETRY_SCHEDULE = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
JITTER = 0.1  # each wait is stretched or shrunk by up to 10 %
MAX_RETRY_AFTER = timedelta(hours=24)
DISABLE_AFTER_FAILING = timedelta(days=5)


class DrainRequest(BaseModel):
    """Deliver what is due for one endpoint at `now` (the workflow's clock)."""

    endpoint_id: str
    now: datetime


class DrainResult(BaseModel):
    """`stop`: the endpoint is gone or disabled; else when its next delivery is due."""

    stop: bool = False
    more_due: bool = False
    next_due: datetime | None = None


def new_secret() -> str:
    """A signing secret in the `whsec_<base64>` form (24 random bytes)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of `{id}.{timestamp}.{body}` under the secret's bytes."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signature_header(signing_secrets: list[str], webhook_id: str, ts: int, body: bytes) -> str:
    """The `webhook-signature` value: one signature per secret, space-separated."""
    return " ".join(signature(secret, webhook_id, ts, body) for secret in signing_secrets)


def retry_delay(failed_attempts: int, retry_after: timedelta | None) -> timedelta | None:
    """How long to wait after `failed_attempts` failures, with jitter and at least the
    receiver's `Retry-After`; None when the schedule is exhausted."""
    if failed_attempts >= len(RETRY_SCHEDULE):
        return None
    delay = RETRY_SCHEDULE[failed_attempts] * random.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A `Retry-After` header (seconds or an HTTP date) as a wait; None when absent or bad."""
    if not value:
        return None
    try:
        return timedelta(seconds=max(0, int(value)))
    except ValueError:
        pass
    try:
        return max(timedelta(0), parsedate_to_datetime(value) - now)
    except (TypeError, ValueError):
        return None


async def check_webhook_url(url: str, policy: OutboundPolicy) -> None:
    """Refuse (`InvalidInput`) a URL that is not http(s) or whose host resolves to an address
    tenants may not reach (`outbound.guard`)."""
    try:
        await check_url(url, policy)
    except OutboundRefused as refused:
        raise InvalidInput(f"webhook URL refused: {refused}") from None
