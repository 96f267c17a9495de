"""A fake of Meta's Graph API (WhatsApp Cloud) on 127.0.0.1, and builders of Meta's webhooks.

It answers `POST /{version}/{phone_number_id}/messages` like Meta does, checks WhatsApp's
limits (3 buttons, 10 rows, title lengths), and answers Meta's error shapes for revoked tokens,
recipients it cannot reach and scripted failures (e.g. 130429 rate limits).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from tests.fake_server import FakeServer, JsonHandler

REVOKED_TOKEN = "revoked-token"
UNREACHABLE = "15550000000"
ERRORS = {
    190: (401, "Error validating access token: Session has expired on Monday, 23-Nov-26."),
    130429: (400, "(#130429) Rate limit hit"),
    131056: (400, "(#131056) (Business Account, Consumer Account) pair rate limit hit"),
    131030: (400, "(#131030) Recipient phone number not in allowed list"),
    131009: (400, "(#131009) Parameter value is not valid"),
    131047: (400, "(#131047) Re-engagement message"),
}


class FakeMeta(FakeServer):
    """The Graph API; `read` holds the message ids marked as read, `media` what can be fetched.

    `answer_gate`, while set to an unset event, holds each accepted send's answer until the
    event is set (the message is recorded first): a provider call in progress.
    """

    def __init__(self) -> None:
        self.read: list[str] = []
        self.media: dict[str, tuple[bytes, str]] = {}
        self.answer_gate: threading.Event | None = None
        super().__init__(_Handler)

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.read = []
            self.media.clear()
            self.answer_gate = None

    def messages_to(self, wa_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [body for body in self.sent if body["to"] == wa_id]


class _Handler(JsonHandler):
    fake: FakeMeta

    def do_POST(self) -> None:
        parts = self.path.strip("/").split("/")
        if len(parts) != 3 or parts[2] != "messages":
            return self._error(404, 100, "Unknown path components")
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.headers.get("Authorization") == f"Bearer {REVOKED_TOKEN}":
            return self._meta_error(190)
        if body.get("messaging_product") != "whatsapp":
            return self._error(400, 100, "The parameter messaging_product is required.")
        if body.get("status") == "read":
            with self.fake.lock:
                self.fake.read.append(body["message_id"])
            return self._json(200, {"success": True})
        failure = self.fake.next_failure()
        if failure:
            return self._meta_error(failure)
        if body.get("to") == UNREACHABLE:
            return self._meta_error(131030)
        problem = _limits_problem(body)
        if problem:
            return self._error(400, 131009, f"(#131009) Parameter value is not valid: {problem}")
        message_id = f"wamid.{uuid.uuid4().hex}"
        self.fake.record({**body, "id": message_id, "at": time.monotonic()})
        if self.fake.answer_gate is not None:
            self.fake.answer_gate.wait(timeout=30)
        answer: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": body["to"], "wa_id": body["to"]}],
            "messages": [{"id": message_id}],
        }
        if body.get("type") == "template":
            answer["messages"][0]["message_status"] = "accepted"
        self._json(200, answer)

    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/")
        if self.headers.get("Authorization", "").startswith(f"Bearer {REVOKED_TOKEN}"):
            return self._meta_error(190)
        media_id = parts[-1]
        if media_id not in self.fake.media:
            return self._error(404, 100, f"Unsupported get request. Object {media_id} not found")
        content, mime = self.fake.media[media_id]
        if parts[0] == "download":
            self.send_response(200)
            self.send_header("Content-Type", mime)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
            return None
        self._json(
            200,
            {
                "messaging_product": "whatsapp",
                "url": f"{self.fake.url}/download/{media_id}",
                "mime_type": mime,
                "id": media_id,
                "sha256": hashlib.sha256(content).hexdigest(),
                "file_size": len(content),
            },
        )

    def _meta_error(self, code: int) -> None:
        status, message = ERRORS[code]
        self._error(status, code, message)

    def _error(self, status: int, code: int, message: str) -> None:
        self._json(
            status,
            {
                "error": {
                    "message": message,
                    "type": "OAuthException",
                    "code": code,
                    "error_data": {"messaging_product": "whatsapp", "details": message},
                    "fbtrace_id": uuid.uuid4().hex[:20],
                }
            },
        )


def _limits_problem(body: dict[str, Any]) -> str | None:
    """What breaks WhatsApp's limits for interactive and text messages, if anything."""
    if body.get("type") == "text" and len(body["text"]["body"]) > 4096:
        return "text body longer than 4096"
    interactive = body.get("interactive")
    if not interactive:
        return None
    if not interactive.get("body", {}).get("text"):
        return "interactive body text is required"
    if interactive["type"] == "button":
        buttons = interactive["action"]["buttons"]
        if not 1 <= len(buttons) <= 3 or any(len(b["reply"]["title"]) > 20 for b in buttons):
            return "1 to 3 buttons with titles of at most 20 characters"
    if interactive["type"] == "list":
        rows = [row for section in interactive["action"]["sections"] for row in section["rows"]]
        if not 1 <= len(rows) <= 10 or any(len(row["title"]) > 24 for row in rows):
            return "1 to 10 rows with titles of at most 24 characters"
    return None


# --- what Meta posts to our webhook ----------------------------------------------------------


def signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def webhook(
    phone_number_id: str,
    *,
    messages: Sequence[dict[str, Any]] = (),
    statuses: Sequence[dict[str, Any]] = (),
    names: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A `whatsapp_business_account` notification with one entry and one change."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": phone_number_id},
    }
    if messages:
        senders = {message["from"] for message in messages}
        value["contacts"] = [
            {"profile": {"name": (names or {}).get(wa_id, "")}, "wa_id": wa_id}
            for wa_id in sorted(senders)
        ]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    change = {"value": value, "field": "messages"}
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA-1", "changes": [change]}]}


def message(
    wa_id: str, kind: str, body: dict[str, Any] | list[Any], **extra: Any
) -> dict[str, Any]:
    """One `messages[]` item; `body` goes under the key named by the type."""
    return {
        "from": wa_id,
        "id": extra.pop("id", f"wamid.{uuid.uuid4().hex}"),
        "timestamp": str(int(time.time())),
        "type": kind,
        kind: body,
        **extra,
    }


def status(message_id: str, state: str, wa_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": message_id,
        "status": state,
        "timestamp": str(int(time.time())),
        "recipient_id": wa_id,
        **extra,
    }
