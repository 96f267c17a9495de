"""A fake Salesforce on https://127.0.0.1 (self-signed certificate, trusted through
`REQUESTS_CA_BUNDLE`): the SOAP `login` simple-salesforce's session login makes, and the REST
calls the `crm` node makes (SOQL query, Contact create/update, Opportunity and its contact role).

Errors use Salesforce's shapes: a SOAP fault (HTTP 500, `sf:exceptionCode`) for a bad login, and
`[{"errorCode", "message"}]` for REST (403 `REQUEST_LIMIT_EXCEEDED`, 400 `REQUIRED_FIELD_MISSING`).
"""

from __future__ import annotations

import ipaddress
import json
import re
import ssl
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fake_server import FakeServer, JsonHandler

VERSION = "59.0"
USERNAME, PASSWORD, TOKEN = "bot@acme.example", "sf-password", "SECTOKEN"
ERRORS = {
    403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    400: ("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]"),
}
LOGIN_OK = """<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope
 xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com">
<soapenv:Body><loginResponse><result><passwordExpired>false</passwordExpired>
<serverUrl>{base}/services/Soap/u/{version}/00D000000000001</serverUrl>
<sessionId>{session}</sessionId><userId>005000000000001</userId></result></loginResponse>
</soapenv:Body></soapenv:Envelope>"""
LOGIN_FAULT = """<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope
 xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>
<faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username, password,
 security token; or user locked out.</faultstring><detail><sf:LoginFault xsi:type="sf:LoginFault">
<sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>Invalid username,
 password, security token; or user locked out.</sf:exceptionMessage></sf:LoginFault></detail>
</soapenv:Fault></soapenv:Body></soapenv:Envelope>"""


def self_signed(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A TLS context for 127.0.0.1 and the certificate file a client must trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


class FakeSalesforce(FakeServer):
    """`records` by object then id; `sessions` issued by `login`; `logins` counted."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, dict[str, Any]]] = {}
        self.sessions: set[str] = set()
        self.logins = 0
        context, self.certificate = self_signed(Path(tempfile.mkdtemp(prefix="bb-sf-")))
        super().__init__(_Handler, tls=context)

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.records, self.logins = {}, 0

    def add(self, sobject: str, **fields: Any) -> str:
        prefix = {"Contact": "003", "Opportunity": "006"}.get(sobject, "00X")
        record_id = f"{prefix}{uuid.uuid4().hex[:15]}"
        with self.lock:
            self.records.setdefault(sobject, {})[record_id] = fields
        return record_id


class _Handler(JsonHandler):
    fake: FakeSalesforce

    def do_GET(self) -> None:
        self._rest("GET")

    def do_PATCH(self) -> None:
        self._rest("PATCH")

    def do_POST(self) -> None:
        if self.path == f"/services/Soap/u/{VERSION}":
            return self._login()
        self._rest("POST")

    def _login(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        username = re.search(r"<n1:username>(.*?)</n1:username>", body)
        password = re.search(r"<n1:password>(.*?)</n1:password>", body)
        if not (
            username
            and password
            and username.group(1) == USERNAME
            and password.group(1) == PASSWORD + TOKEN
        ):
            return self._xml(500, LOGIN_FAULT)
        session = f"00D!{uuid.uuid4().hex}"
        with self.fake.lock:
            self.fake.sessions.add(session)
            self.fake.logins += 1
        self._xml(200, LOGIN_OK.format(base=self.fake.url, version=VERSION, session=session))

    def _rest(self, method: str) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.fake.sessions:
            return self._errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        failure = self.fake.next_failure()
        if failure:
            return self._errors(failure, *ERRORS[failure])
        url = urlsplit(self.path)
        path = url.path.removeprefix(f"/services/data/v{VERSION}/")
        body = json.loads(raw) if raw else {}
        if method == "GET" and path == "query/":
            return self._query(parse_qs(url.query)["q"][0])
        match = re.fullmatch(r"sobjects/(\w+)/(\w*)", path)
        if match is None:
            return self._errors(404, "NOT_FOUND", "The requested resource does not exist")
        sobject, record_id = match.groups()
        if method == "POST" and not record_id:
            new_id = self.fake.add(sobject, **body)
            return self._send(201, {"id": new_id, "success": True, "errors": []})
        with self.fake.lock:
            records = self.fake.records.get(sobject, {})
            if method == "PATCH" and record_id in records:
                records[record_id] = {**records[record_id], **body}
                return self._send(204, None)
        self._errors(404, "NOT_FOUND", "The requested resource does not exist")

    def _query(self, soql: str) -> None:
        match = re.fullmatch(r"SELECT Id FROM (\w+) WHERE (\w+) = '(.*)' LIMIT 1", soql)
        if match is None:
            return self._errors(400, "MALFORMED_QUERY", f"unexpected query {soql}")
        sobject, field, value = match.groups()
        with self.fake.lock:
            found = [
                rid
                for rid, fields in self.fake.records.get(sobject, {}).items()
                if fields.get(field) == value
            ][:1]
        records = [{"attributes": {"type": sobject}, "Id": rid} for rid in found]
        self._send(200, {"totalSize": len(records), "done": True, "records": records})

    def _errors(self, status: int, code: str, message: str) -> None:
        self._send(status, [{"errorCode": code, "message": message}])

    def _send(self, status: int, body: Any) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _xml(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
