"""A fake of Stripe's Checkout Sessions API on 127.0.0.1, and webhook events signed as Stripe
signs them (`stripe.WebhookSignature.generate_signature_header`).

`POST /v1/checkout/sessions` with `Authorization: Bearer sk_...` and form-encoded parameters is
answered with a Checkout Session (mode `payment` or `subscription`); a repeated `Idempotency-Key`
gets the first answer again. `POST /v1/refunds` refunds a payment intent (kept in `refunds`).
Errors use Stripe's shape `{"error": {"type", "message", "code"}}` (429 rate limit, 400 invalid
request, 500 API error), scripted with `fail_next(status)`.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

import stripe

from tests.fake_server import FakeServer, JsonHandler

ERRORS = {
    429: ("rate_limit_error", "rate_limit", "Too many requests hit the API too quickly."),
    400: ("invalid_request_error", "parameter_invalid_integer", "Invalid integer: -1"),
    500: ("api_error", None, "An unknown error occurred"),
}


class FakeStripe(FakeServer):
    """`keys` are the accepted secret keys; `sessions` every created session, by id."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.by_idempotency_key: dict[str, dict[str, Any]] = {}
        self.refunds: list[dict[str, Any]] = []
        super().__init__(_Handler)

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.keys, self.sessions, self.by_idempotency_key = set(), {}, {}
            self.refunds = []

    def signed_event(
        self, event_type: str, session_id: str, secret: str, at: int | None = None, **changes: Any
    ) -> tuple[bytes, str]:
        """(payload, Stripe-Signature) of an event about the session (or its payment intent),
        signed now or at the Unix time `at`."""
        with self.lock:
            session = {**self.sessions[session_id], **changes}
        obj = session
        if event_type.startswith("payment_intent."):
            obj = {
                "id": session["payment_intent"],
                "object": "payment_intent",
                "metadata": session["metadata"],
                "status": "requires_payment_method",
            }
        event = {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": event_type,
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "data": {"object": obj},
            "livemode": False,
        }
        payload = json.dumps(event)
        header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=at)
        return payload.encode(), header


class _Handler(JsonHandler):
    fake: FakeStripe

    def do_GET(self) -> None:
        session = self._known_session(self.path.removeprefix("/v1/checkout/sessions/"))
        if session is not None:
            self._json(200, session)

    def _known_session(self, session_id: str) -> dict[str, Any] | None:
        """The session, once the key is checked; None after answering an error."""
        if self.headers.get("Authorization", "").removeprefix("Bearer ") not in self.fake.keys:
            self._json(
                401,
                {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}},
            )
            return None
        with self.fake.lock:
            session = self.fake.sessions.get(session_id)
        if session is None:
            self._json(
                404,
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "resource_missing",
                        "message": "No such checkout.session",
                    }
                },
            )
        return session

    def _expire(self, session_id: str) -> None:
        session = self._known_session(session_id)
        if session is None:
            return
        with self.fake.lock:
            expirable = session["status"] == "open"
            if expirable:
                session["status"] = "expired"
        if not expirable:
            return self._json(
                400,
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": "Only Checkout Sessions with a status in "
                        '["open"] can be expired.',
                    }
                },
            )
        self._json(200, session)

    def _authorized(self) -> bool:
        """Whether the secret key is known; answers 401 when not."""
        if self.headers.get("Authorization", "").removeprefix("Bearer ") in self.fake.keys:
            return True
        self._json(
            401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}
        )
        return False

    def _refund(self, raw: str) -> None:
        if not self._authorized():
            return None
        params = dict(parse_qsl(raw, keep_blank_values=True))
        refund = {
            "id": f"re_{uuid.uuid4().hex[:24]}",
            "object": "refund",
            "payment_intent": params.get("payment_intent"),
            "status": "succeeded",
        }
        with self.fake.lock:
            self.fake.refunds.append(refund)
        self._json(200, refund)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if self.path.startswith("/v1/checkout/sessions/") and self.path.endswith("/expire"):
            return self._expire(self.path.split("/")[4])
        if self.path == "/v1/refunds":
            return self._refund(raw)
        if self.path != "/v1/checkout/sessions":
            return self._json(
                404,
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": f"Unrecognized request URL {self.path}",
                    }
                },
            )
        if not self._authorized():
            return None
        idempotency_key = self.headers.get("Idempotency-Key")
        with self.fake.lock:
            earlier = self.fake.by_idempotency_key.get(idempotency_key or "")
        if earlier is not None:
            return self._json(200, earlier)
        failure = self.fake.next_failure()
        if failure:
            kind, code, message = ERRORS[failure]
            return self._json(failure, {"error": {"type": kind, "code": code, "message": message}})
        params = dict(parse_qsl(raw, keep_blank_values=True))
        self.fake.record(params)
        session_id = f"cs_test_{uuid.uuid4().hex}"
        amount = params.get("line_items[0][price_data][unit_amount]")
        quantity = int(params.get("line_items[0][quantity]", "1"))
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": params["mode"],
            "url": f"{self.fake.url}/c/pay/{session_id}",
            "status": "open",
            "payment_status": "unpaid",
            "payment_intent": f"pi_{uuid.uuid4().hex[:24]}",
            "amount_total": int(amount) * quantity if amount else None,
            "currency": params.get("line_items[0][price_data][currency]"),
            "client_reference_id": params.get("client_reference_id"),
            "metadata": {
                key[len("metadata[") : -1]: value
                for key, value in params.items()
                if key.startswith("metadata[")
            },
            "subscription": None,
            "expires_at": int(params.get("expires_at") or time.time() + 24 * 3600),
            "success_url": params["success_url"],
        }
        with self.fake.lock:
            self.fake.sessions[session_id] = session
            if idempotency_key:
                self.fake.by_idempotency_key[idempotency_key] = session
        self._json(200, session)
