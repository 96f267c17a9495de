"""Flows' HTTP calls reach only public addresses: loopback, private, metadata and the like are
refused before anything is sent, on every redirect hop too, and bodies are read up to a cap."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError

import outbound.guard as guard
from activities.http_request import MAX_RESPONSE_BYTES, HttpRequester
from flowlang.node_base import HttpRequest
from models.settings import Settings
from tests.helpers import WebChat, chain, make_web_bot, node


class Internal(BaseHTTPRequestHandler):
    """An "internal service": records each request; listed paths redirect, /endless never ends."""

    seen: ClassVar[list[tuple[str, str]]] = []
    redirects: ClassVar[dict[str, str]] = {}

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Host", "")))
        if self.path in self.redirects:
            self.send_response(302)
            self.send_header("Location", self.redirects[self.path])
            self.end_headers()
            return
        if self.path == "/endless":
            self._endless()
            return
        body = b'{"secret": "internal"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _endless(self) -> None:
        """Streams 64 KiB chunks until the client hangs up (no Content-Length)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        chunk = b"x" * 65536
        try:
            while True:
                self.wfile.write(chunk)
        except OSError:
            return

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def internal() -> Iterator[int]:
    """The internal service's port on 127.0.0.1."""
    Internal.seen, Internal.redirects = [], {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), Internal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port
    server.shutdown()


async def call(settings: Settings, url: str) -> Any:
    return await HttpRequester(settings).http_request(HttpRequest(url=url, timeout_seconds=10))


async def refused(settings: Settings, url: str) -> str:
    """The permanent error the activity raises for `url`."""
    with pytest.raises(ApplicationError) as raised:
        await call(settings, url)
    assert raised.value.non_retryable, raised.value
    return raised.value.message


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("localhost", "loopback"),
        ("127.0.0.1", "loopback"),
        ("127.1", "loopback"),
        ("0x7f000001", "loopback"),
        ("2130706433", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("[::]", "unspecified"),
    ],
)
async def test_loopback_by_name_number_and_ipv6_is_refused_unsent(
    test_settings: Settings, internal: int, host: str, reason: str
):
    strict = test_settings.model_copy(update={"outbound_allowed_hosts": ""})
    message = await refused(strict, f"http://{host}:{internal}/admin")
    assert "refused to connect" in message and reason in message
    assert Internal.seen == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
        ("http://10.1.2.3/", "private"),
        ("http://192.168.0.1/", "private"),
        ("http://[fd12:3456::1]/", "unique-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 of 127.0.0.1
    ],
)
async def test_metadata_private_and_special_addresses_are_refused(
    test_settings: Settings, url: str, reason: str
):
    started = time.monotonic()
    message = await refused(test_settings, url)
    assert reason in message
    assert time.monotonic() - started < 2  # refused before any connection attempt


async def test_an_allowed_host_answers_but_a_redirect_to_a_private_address_is_refused(
    test_settings: Settings, internal: int
):
    assert (await call(test_settings, f"http://127.0.0.1:{internal}/ok")).body == {
        "secret": "internal"
    }
    Internal.redirects = {
        "/to-name": f"http://localhost:{internal}/secret",
        "/to-metadata": "http://169.254.169.254/latest/meta-data/",
    }
    assert "loopback" in await refused(test_settings, f"http://127.0.0.1:{internal}/to-name")
    assert "metadata" in await refused(test_settings, f"http://127.0.0.1:{internal}/to-metadata")
    assert [path for path, _host in Internal.seen] == ["/ok", "/to-name", "/to-metadata"]


async def test_a_checked_name_is_connected_by_its_checked_address_with_its_host_header(
    test_settings: Settings, internal: int, monkeypatch: pytest.MonkeyPatch
):
    """The pinned connection: 127.0.0.1 counted as public here, so `localhost` passes the
    check, is connected to at that address, and the server still sees `Host: localhost`."""
    resolved: list[str] = []
    real_resolve = guard.resolve_checked

    async def recording_resolve(host: str, port: int, policy: guard.OutboundPolicy) -> str | None:
        resolved.append(host)
        return await real_resolve(host, port, policy)

    monkeypatch.setattr(guard, "resolve_checked", recording_resolve)
    monkeypatch.setattr(guard, "refusal_reason", lambda address: None)
    strict = test_settings.model_copy(update={"outbound_allowed_hosts": ""})
    assert (await call(strict, f"http://localhost:{internal}/pinned")).status == 200
    assert resolved == ["localhost"]
    assert Internal.seen == [("/pinned", f"localhost:{internal}")]


def self_signed_localhost(folder: Path) -> tuple[Path, Path]:
    """A certificate (and key) for the name `localhost`, written to `folder`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_https_to_a_pinned_address_keeps_the_name_for_sni_and_certificate_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """127.0.0.1 counted as public here: `https://localhost` is connected to at the checked
    address, while TLS still names `localhost` (SNI) and verifies the certificate for it."""
    cert_file, key_file = self_signed_localhost(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_file, key_file)
    server_names: list[str | None] = []
    server_tls.sni_callback = lambda _socket, name, _context: server_names.append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Internal)
    server.socket = server_tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Internal.seen = []
    monkeypatch.setattr(guard, "refusal_reason", lambda address: None)
    client_tls = ssl.create_default_context(cafile=str(cert_file))
    transport = guard.GuardedTransport(guard.OutboundPolicy(), verify=client_tls)
    try:
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.get(f"https://localhost:{server.server_port}/tls")
    finally:
        server.shutdown()
    assert response.status_code == 200
    assert server_names == ["localhost"]
    assert Internal.seen == [("/tls", f"localhost:{server.server_port}")]


async def test_an_endless_response_is_cut_at_the_cap(test_settings: Settings, internal: int):
    started = time.monotonic()
    message = await refused(test_settings, f"http://127.0.0.1:{internal}/endless")
    assert f"over {MAX_RESPONSE_BYTES:,} bytes" in message
    assert time.monotonic() - started < 5


def test_the_policy_matches_hosts_as_written():
    policy = guard.OutboundPolicy.parse("Example.internal, 10.0.0.0/8, [::1]")
    assert policy.allows("example.internal") and policy.allows("10.9.8.7")
    assert policy.allows("::1") and not policy.allows("localhost")
    assert not policy.allows("other.internal") and not policy.allows("11.0.0.1")


async def test_a_flow_calling_an_internal_address_leaves_by_error_with_the_reason(
    api: httpx.AsyncClient, db_engine: AsyncEngine, internal: int
):
    definition = chain(
        node("peek", "api", apiUrl=f"http://localhost:{internal}/admin", retryAttempts=0),
        node("say", "message", content="{{api.error}}"),
    )
    definition["edges"][0]["sourceHandle"] = "error"
    _bot, channel = await make_web_bot(db_engine, definition)
    chat = WebChat(api, channel, "prober")
    await chat.say("hi")
    [reply] = await chat.wait_replies(1)
    assert "refused to connect to localhost (127.0.0.1): a loopback address" in reply
    assert Internal.seen == []
