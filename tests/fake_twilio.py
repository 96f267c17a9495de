"""A fake of Twilio's Messages API on 127.0.0.1, and signed webhooks as Twilio sends them.

`POST /2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP basic auth and form fields,
answered with Twilio's message resource (201) or its error shape `{code, message, more_info,
status}`: 20003 wrong credentials, 21211 invalid To, 21619 no body, scripted failures.
"""

from __future__ import annotations

import re
import time
import uuid
from base64 import b64decode
from typing import Any
from urllib.parse import parse_qs

from twilio.request_validator import RequestValidator

from tests.fake_server import FakeServer, JsonHandler

E164 = re.compile(r"^(whatsapp:)?\+[1-9][0-9]{6,14}$")
ERRORS = {
    20003: (401, "Authenticate"),
    20429: (429, "Too Many Requests"),
    21211: (400, "Invalid 'To' Phone Number"),
    21619: (400, "A text message body or media urls must be specified."),
    63016: (400, "Failed to send freeform message because you are outside the allowed window."),
}


class FakeTwilio(FakeServer):
    """Accounts are `{sid: auth_token}`; `sent` holds every accepted message's form fields."""

    def __init__(self) -> None:
        self.accounts: dict[str, str] = {}
        super().__init__(_Handler)

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.accounts = {}

    def messages_to(self, to: str) -> list[dict[str, Any]]:
        with self.lock:
            return [fields for fields in self.sent if fields["To"] == to]


class _Handler(JsonHandler):
    fake: FakeTwilio

    def do_POST(self) -> None:
        match = re.fullmatch(r"/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json", self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        fields = {
            key: values if len(values) > 1 else values[0]
            for key, values in parse_qs(raw, keep_blank_values=True).items()
        }
        if match is None:
            return self._json(
                404,
                {"code": 20404, "message": "The requested resource was not found", "status": 404},
            )
        sid = match.group(1)
        user, _, password = (
            b64decode(self.headers.get("Authorization", "Basic ").split(" ")[1] or b"")
            .decode()
            .partition(":")
        )
        if user != sid or self.fake.accounts.get(sid) != password:
            return self._error(20003)
        failure = self.fake.next_failure()
        if failure:
            return self._error(failure)
        if not E164.match(fields.get("To", "")):
            return self._error(21211)
        if not (fields.get("Body") or fields.get("MediaUrl") or fields.get("ContentSid")):
            return self._error(21619)
        message_sid = f"SM{uuid.uuid4().hex}"
        self.fake.record({**fields, "Sid": message_sid, "at": time.monotonic()})
        now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        self._json(
            201,
            {
                "account_sid": sid,
                "api_version": "2010-04-01",
                "body": fields.get("Body", ""),
                "date_created": now,
                "date_sent": None,
                "date_updated": now,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": fields.get("From"),
                "messaging_service_sid": None,
                "num_media": "1" if fields.get("MediaUrl") else "0",
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
                "sid": message_sid,
                "status": "queued",
                "subresource_uris": {
                    "media": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}/Media.json"
                },
                "to": fields["To"],
                "uri": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}.json",
            },
        )

    def _error(self, code: int) -> None:
        status, message = ERRORS[code]
        self._json(
            status,
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
        )


def twilio_signature(auth_token: str, url: str, fields: dict[str, str]) -> str:
    """`X-Twilio-Signature` as Twilio computes it for a form POST to `url`."""
    return RequestValidator(auth_token).compute_signature(url, fields)
