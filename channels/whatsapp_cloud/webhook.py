"""Meta's webhook: the GET handshake, `X-Hub-Signature-256`, and parsing events into messages."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from channels.base import InboundDelivery, ParsedWebhook, StatusUpdate
from models.messages import Contact, InboundMessage, Location, Media

MEDIA_TYPES = {
    "image": "image",
    "sticker": "image",
    "video": "video",
    "audio": "audio",
    "voice": "audio",
    "document": "document",
}
STATUSES = ("sent", "delivered", "read", "failed")


def signature_valid(app_secret: str, raw_body: bytes, header: str | None) -> bool:
    """Whether `header` is `sha256=<hex HMAC-SHA256 of the raw body>`; compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.removeprefix("sha256=").encode())


def handshake_challenge(params: dict[str, str], verify_token: str) -> str | None:
    """The challenge to echo when Meta subscribes with our verify token; None otherwise."""
    token = params.get("hub.verify_token", "")
    if params.get("hub.mode") != "subscribe" or "hub.challenge" not in params:
        return None
    if not hmac.compare_digest(token.encode(), verify_token.encode()):
        return None
    return params["hub.challenge"]


def parse_webhook(payload: dict[str, Any], phone_number_id: str, media_url: str) -> ParsedWebhook:
    """Every message and status of every entry and change for this phone number, in order
    (an app's webhook may also carry its other numbers' events: those are left out).

    `media_url` is the Graph API base (`{graph}/{version}`); a media message's url is its
    Graph object, which the channel's token can fetch.
    """
    parsed = ParsedWebhook()
    if not isinstance(payload.get("entry"), list):
        raise ValueError("the payload has no `entry` list")
    for entry in payload["entry"]:
        for change in entry.get("changes") or []:
            value = change.get("value") or {}
            if (value.get("metadata") or {}).get("phone_number_id") != phone_number_id:
                continue
            names = {
                contact.get("wa_id"): (contact.get("profile") or {}).get("name")
                for contact in value.get("contacts") or []
            }
            for raw in value.get("messages") or []:
                message = parse_message(raw, media_url)
                name = names.get(raw["from"])
                message.contact_name = name
                parsed.messages.append(InboundDelivery(raw["from"], message, name))
            parsed.statuses += [
                parse_status(raw)
                for raw in value.get("statuses") or []
                if raw.get("status") in STATUSES
            ]
    return parsed


def parse_message(raw: dict[str, Any], media_url: str) -> InboundMessage:
    """One `messages[]` item as a channel-neutral message."""
    kind = raw.get("type", "unsupported")
    found = raw.get(kind)
    body: dict[str, Any] = found if isinstance(found, dict) else {}
    message = InboundMessage(
        provider_message_id=raw["id"],
        kind="unsupported",
        timestamp=_iso(raw.get("timestamp")),
        reply_to=(raw.get("context") or {}).get("id"),
    )
    if kind == "text":
        message.kind, message.text = "text", body.get("body")
    elif kind == "interactive":
        reply = body.get("button_reply") or body.get("list_reply") or {}
        message.kind = "button" if "button_reply" in body else "list"
        message.payload, message.text = reply.get("id"), reply.get("title")
    elif kind == "button":
        message.kind, message.payload, message.text = (
            "button",
            body.get("payload"),
            body.get("text"),
        )
    elif kind in MEDIA_TYPES:
        message.kind, message.text = "media", body.get("caption")
        message.media = Media(
            kind=MEDIA_TYPES[kind],
            id=body.get("id"),
            url=f"{media_url}/{body.get('id')}",
            caption=body.get("caption"),
            filename=body.get("filename"),
            mime_type=body.get("mime_type"),
        )
    elif kind == "location":
        message.kind = "location"
        message.location = Location(
            latitude=body["latitude"],
            longitude=body["longitude"],
            name=body.get("name"),
            address=body.get("address"),
        )
    elif kind == "contacts":
        message.kind = "contact"
        message.contacts = [_contact(card) for card in raw.get("contacts") or []]
        message.text = ", ".join(contact.name for contact in message.contacts)
    elif kind == "reaction":
        message.kind, message.text = "reaction", body.get("emoji")
        message.reply_to = body.get("message_id")
    return message


def parse_status(raw: dict[str, Any]) -> StatusUpdate:
    errors = raw.get("errors") or []
    error = None
    if errors:
        first = errors[0]
        details = (first.get("error_data") or {}).get("details")
        error = {
            "code": first.get("code"),
            "message": details or first.get("message") or first.get("title"),
        }
    return StatusUpdate(provider_message_id=raw["id"], status=raw["status"], error=error)


def _contact(card: dict[str, Any]) -> Contact:
    name = card.get("name") or {}
    phones = card.get("phones") or [{}]
    emails = card.get("emails") or [{}]
    return Contact(
        name=name.get("formatted_name") or name.get("first_name") or "",
        phone=phones[0].get("phone"),
        email=emails[0].get("email"),
    )


def _iso(timestamp: str | None) -> str | None:
    if not timestamp:
        return None
    try:
        return datetime.fromtimestamp(int(timestamp), UTC).isoformat()
    except (OverflowError, OSError) as err:
        raise ValueError(f"timestamp {timestamp!r} is not a time") from err
