"""What the fake providers share: a threaded HTTP server on 127.0.0.1 that records what it
accepted and can be told to fail the next requests with the provider's error codes."""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeServer:
    """`sent` holds every accepted message (with its arrival time `at`), `url` the base URL."""

    def __init__(self, handler: type[JsonHandler], tls: ssl.SSLContext | None = None) -> None:
        self.lock = threading.Lock()
        self.sent: list[dict[str, Any]] = []
        self.failures: list[int] = []
        self.server = ThreadingHTTPServer(
            ("127.0.0.1", 0), type("Handler", (handler,), {"fake": self})
        )
        if tls is not None:  # HTTPS, for clients that insist on it
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        with self.lock:
            self.sent, self.failures = [], []

    def fail_next(self, *codes: int) -> None:
        """The next sends fail with these provider error codes, in order."""
        with self.lock:
            self.failures.extend(codes)

    def next_failure(self) -> int | None:
        with self.lock:
            return self.failures.pop(0) if self.failures else None

    def record(self, message: dict[str, Any]) -> None:
        with self.lock:
            self.sent.append(message)

    def close(self) -> None:
        self.server.shutdown()


class JsonHandler(BaseHTTPRequestHandler):
    fake: Any

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return None
