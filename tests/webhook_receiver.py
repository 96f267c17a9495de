"""A webhook receiver on 127.0.0.1 for the tests, verifying Standard Webhooks signatures with
its own implementation of the specification (not the production code's)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_SECONDS = 5 * 60


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks: any `v1,<sig>` in the space-separated header is the base64
    HMAC-SHA256, keyed by the base64-decoded part of `whsec_<key>`, of `{id}.{ts}.{body}`."""
    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(ts)) > TOLERANCE_SECONDS:
        return False
    key = base64.b64decode(secret.split("_", 1)[1])
    expected = hmac.new(key, msg_id.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256)
    wanted = base64.b64encode(expected.digest()).decode()
    for candidate in headers["webhook-signature"].split(" "):
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, wanted):
            return True
    return False


class Receiver:
    """Records every request; answers from `script` (a status per request, then 200) once `gate`
    is open, or never answers while `hang` is set."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[dict[str, Any]] = []
        self.script: list[int] = []
        self.retry_after: str | None = None
        self.hang = threading.Event()
        self.released = threading.Event()
        self.gate = threading.Event()
        self.gate.set()
        self.secrets: list[str] = []
        handler = type("Handler", (ReceiverHandler,), {"receiver": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self) -> int:
        with self.lock:
            return self.script.pop(0) if self.script else 200

    def record(self, headers: dict[str, str], body: bytes) -> None:
        entry = {
            "id": headers.get("webhook-id"),
            "headers": headers,
            "body": json.loads(body),
            "valid": [verify(secret, headers, body) for secret in self.secrets],
        }
        with self.lock:
            self.received.append(entry)

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.received)

    def close(self) -> None:
        self.released.set()
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


class ReceiverHandler(BaseHTTPRequestHandler):
    receiver: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.receiver.record(headers, body)
        if self.receiver.hang.is_set():
            self.receiver.released.wait(timeout=60)
            return
        self.receiver.gate.wait(timeout=60)
        status = self.receiver.answer()
        self.send_response(status)
        if self.receiver.retry_after and status >= 400:
            self.send_header("Retry-After", self.receiver.retry_after)
        if 300 <= status < 400:  # to itself: a followed redirect would be recorded too
            self.send_header("Location", f"{self.receiver.url}/moved")
        reply = f"answer {status}".encode()
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        return None
