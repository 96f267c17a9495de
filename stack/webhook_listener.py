"""`botbuilder webhooks listen`: receive webhook deliveries on a local port, check their
signatures and print them, to see what an integration will get (also used by `bench`)."""

from __future__ import annotations

import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from services.webhooks.rules import signature

TOLERANCE_SECONDS = 5 * 60


def signature_valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Whether one of the `webhook-signature` entries signs this body, per Standard Webhooks."""
    try:
        webhook_id, timestamp = headers["webhook-id"], int(headers["webhook-timestamp"])
        if abs(time.time() - timestamp) > TOLERANCE_SECONDS:
            return False
        expected = signature(secret, webhook_id, timestamp, body)
    except (KeyError, ValueError):
        return False
    return any(
        hmac.compare_digest(entry, expected)
        for entry in headers.get("webhook-signature", "").split()
    )


class WebhookListener:
    """A threaded HTTP server answering 204 to every POST, counting and (unless quiet)
    printing each delivery with whether its signature is valid."""

    def __init__(self, port: int, secret: str | None, quiet: bool = False) -> None:
        self.secret, self.quiet = secret, quiet
        self.received = self.invalid = 0
        self.lock = threading.Lock()
        handler = type("Handler", (ListenerHandler,), {"listener": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"

    def accept(self, headers: dict[str, str], body: bytes) -> None:
        valid = None if self.secret is None else signature_valid(self.secret, headers, body)
        with self.lock:
            self.received += 1
            self.invalid += valid is False
        if not self.quiet:
            print(describe(headers, body, valid), flush=True)

    def start(self) -> WebhookListener:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def describe(headers: dict[str, str], body: bytes, valid: bool | None) -> str:
    """One delivery as printed: id, type, signature check, then the JSON body."""
    check = {True: "signature OK", False: "SIGNATURE INVALID", None: "signature not checked"}
    try:
        payload: Any = json.loads(body)
        event_type, text = payload.get("type", "?"), json.dumps(payload, indent=2)
    except (ValueError, AttributeError):
        event_type, text = "?", body.decode("utf-8", errors="replace")
    return f"{headers.get('webhook-id', '?')}  {event_type}  {check[valid]}\n{text}\n"


class ListenerHandler(BaseHTTPRequestHandler):
    listener: WebhookListener
    protocol_version = "HTTP/1.1"  # keep connections open, as real receivers do

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.listener.accept({k.lower(): v for k, v in self.headers.items()}, body)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


def listen(port: int, secret: str | None) -> int:
    """Serve until interrupted."""
    listener = WebhookListener(port, secret)
    print(f"Listening for webhooks on {listener.url} (Ctrl-C to stop)", flush=True)
    try:
        listener.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        listener.server.server_close()
    return 0
