"""An SMTP server on 127.0.0.1 (`aiosmtpd`) that keeps what it accepted and can be told to
answer the next messages with an SMTP error (`451 ...` temporary, `550 ...` permanent)."""

from __future__ import annotations

import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from stack.ports import free_port


class FakeSmtp:
    """`received` holds (envelope recipients, parsed message) of every accepted email;
    `options` go to aiosmtpd's controller (`tls_context=` for STARTTLS, `ssl_context=` for
    implicit TLS)."""

    def __init__(self, **options: Any) -> None:
        self.lock = threading.Lock()
        self.received: list[tuple[list[str], EmailMessage]] = []
        self.failures: list[str] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port(), **options)
        self.controller.start()
        self.port = self.controller.port

    def reset(self) -> None:
        with self.lock:
            self.received, self.failures = [], []

    def fail_next(self, *replies: str) -> None:
        """The next DATA commands are answered with these replies, in order."""
        with self.lock:
            self.failures.extend(replies)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> Any:
        with self.lock:
            if self.failures:
                return self.failures.pop(0)
            message = message_from_bytes(envelope.content or b"", policy=policy.default)
            assert isinstance(message, EmailMessage)
            self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def close(self) -> None:
        self.controller.stop()
