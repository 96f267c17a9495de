"""The `send_email` activity of the `email` node: one message through the organization's SMTP.

The SMTP host is the organization's choice, so it goes through the outbound guard
(`outbound.guard`): refused for good unless it resolves only to public addresses (or is listed in
`BOTBUILDER_OUTBOUND_ALLOWED_HOSTS`), and the connection goes to the checked address while TLS
still verifies the certificate for the host name. The standard library's `smtplib` runs in a
thread. Temporary failures (4xx answers, refused or dropped connections, timeouts) are retried by
Temporal with backoff; 5xx answers, TLS and authentication failures fail for good. The
`Message-ID` derives from the idempotency key, so a retried send carries the same id and mail
clients show one message."""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.integration_base import IntegrationActivities, permanent, retryable
from models.integration_config import SmtpConfig
from models.payloads import activity_names
from models.payloads.integrations import EmailRequest, EmailSent
from outbound.guard import OutboundPolicy, OutboundRefused, resolve_checked


class EmailSender(IntegrationActivities):
    kind = "smtp"

    @activity.defn(name=activity_names.SEND_EMAIL)
    async def send_email(self, request: EmailRequest) -> EmailSent:
        """Send the email; its `Message-ID` and any recipients the server refused."""
        config, secrets = await self.credentials(request.bot_id)
        smtp = SmtpConfig.model_validate(config)
        message = compose(request, smtp)
        recipients = [*request.to, *request.cc, *request.bcc]
        policy = OutboundPolicy.parse(self.settings.outbound_allowed_hosts)
        try:
            address = await resolve_checked(smtp.host, smtp.port, policy)
        except OutboundRefused as refused:
            raise permanent(f"the SMTP server was not contacted: {refused}") from None
        try:
            refused = await asyncio.to_thread(
                deliver, smtp, address or smtp.host, secrets.get("password"), message, recipients
            )
        except smtplib.SMTPRecipientsRefused as err:
            raise classify_refused(err.recipients) from err
        except smtplib.SMTPResponseException as err:
            raise by_code(err.smtp_code, f"{err.smtp_code} {_text(err.smtp_error)}") from err
        except smtplib.SMTPNotSupportedError as err:
            raise permanent(f"the SMTP server {smtp.host} does not support it: {err}") from err
        except ssl.SSLError as err:
            raise permanent(f"TLS with {smtp.host}:{smtp.port} failed: {err}") from err
        except (smtplib.SMTPException, OSError) as err:  # refused, dropped, timed out
            raise retryable(f"cannot reach {smtp.host}:{smtp.port}: {err!r}") from err
        return EmailSent(message_id=message["Message-ID"], refused=sorted(refused))


def compose(request: EmailRequest, smtp: SmtpConfig) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((smtp.from_name or "", smtp.from_address))
    message["To"] = ", ".join(request.to)
    if request.cc:
        message["Cc"] = ", ".join(request.cc)
    if request.reply_to:
        message["Reply-To"] = ", ".join(request.reply_to)
    message["Subject"] = request.subject
    domain = smtp.from_address.rpartition("@")[2]
    digest = hashlib.sha256(request.idempotency_key.encode()).hexdigest()[:32]
    message["Message-ID"] = f"<{digest}@{domain}>"
    message.set_content(request.text)
    if request.html:
        message.add_alternative(request.html, subtype="html")
    return message


def deliver(
    smtp: SmtpConfig,
    address: str,
    password: str | None,
    message: EmailMessage,
    recipients: list[str],
) -> dict[str, Any]:
    """One SMTP session (blocking) with the server at `address`; the recipients refused while
    others were accepted."""
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if smtp.security == "tls":
        client = smtplib.SMTP_SSL(timeout=smtp.timeout_seconds, context=context)
    else:
        client = smtplib.SMTP(timeout=smtp.timeout_seconds)
    # smtplib takes the TLS server name (SNI, certificate check) from `_host`, which its
    # constructor sets only when it connects by itself: connect to the address, verify the name.
    client._host = smtp.host
    with client:
        code, reply = client.connect(address, smtp.port)
        if code != 220:
            raise smtplib.SMTPConnectError(code, reply)
        if smtp.security == "starttls":
            client.starttls(context=context)
        if smtp.username and password:
            client.login(smtp.username, password)
        return client.send_message(message, to_addrs=recipients)


def classify_refused(recipients: dict[str, tuple[int, bytes]]) -> ApplicationError:
    """Every recipient refused: temporary when any refusal was (4xx), else permanent."""
    codes = [code for code, _ in recipients.values()]
    detail = "; ".join(
        f"{address}: {code} {_text(reason)}" for address, (code, reason) in recipients.items()
    )
    return by_code(min(codes), f"every recipient was refused ({detail})")


def by_code(code: int, detail: str) -> ApplicationError:
    """4xx answers are temporary, anything else (5xx) permanent."""
    message = f"the SMTP server answered {detail}"
    return retryable(message) if 400 <= code < 500 else permanent(message)


def _text(reason: bytes | str) -> str:
    return reason.decode(errors="replace") if isinstance(reason, bytes) else reason
