"""Twilio's form-encoded webhooks: `X-Twilio-Signature` and the fields of messages and statuses."""

from __future__ import annotations

from twilio.request_validator import RequestValidator

from channels.base import InboundDelivery, ParsedWebhook, StatusUpdate
from models.messages import InboundMessage, Location, Media, MediaKind

MEDIA_FAMILIES: dict[str, MediaKind] = {"image": "image", "video": "video", "audio": "audio"}
STATUSES = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
}


def signature_valid(auth_token: str, url: str, form: dict[str, str], signature: str) -> bool:
    """Twilio's HMAC-SHA1 over the URL it called and the sorted POST fields."""
    return bool(signature) and RequestValidator(auth_token).validate(url, form, signature)


def contact_id(address: str) -> str:
    """`whatsapp:+34600111222` and `+34600111222` both identify the contact `+34600111222`."""
    return address.removeprefix("whatsapp:")


def parse_inbound(form: dict[str, str]) -> ParsedWebhook:
    """An inbound message; each attached media becomes its own message (`{sid}/{n}` after the
    first), the text riding on the first."""
    sid, body = form["MessageSid"], form.get("Body") or None
    name = form.get("ProfileName") or None
    message = InboundMessage(provider_message_id=sid, text=body, contact_name=name)
    extra: list[InboundMessage] = []
    if form.get("ButtonPayload"):
        message.kind, message.payload = "button", form["ButtonPayload"]
        message.text = form.get("ButtonText") or body
    elif form.get("Latitude") and form.get("Longitude"):
        message.kind = "location"
        message.location = Location(
            latitude=_coordinate(form, "Latitude", 90),
            longitude=_coordinate(form, "Longitude", 180),
            name=form.get("Label") or None,
            address=form.get("Address") or None,
        )
    elif int(form.get("NumMedia") or 0) > 0:
        media = [_media(form, index, body) for index in range(int(form["NumMedia"]))]
        message.kind, message.media = "media", media[0]
        extra = [
            InboundMessage(
                provider_message_id=f"{sid}/{index}", kind="media", media=item, contact_name=name
            )
            for index, item in enumerate(media[1:], start=1)
        ]
    sender = contact_id(form["From"])
    return ParsedWebhook(
        messages=[InboundDelivery(sender, item, name) for item in (message, *extra)]
    )


def parse_status(form: dict[str, str]) -> StatusUpdate | None:
    """A status callback as a delivery report; None for Twilio's intermediate states."""
    status = STATUSES.get(form.get("MessageStatus", ""))
    if status is None:
        return None
    error = None
    if status == "failed":
        code = form.get("ErrorCode")
        error = {
            "code": int(code) if code and code.isdigit() else code,
            "message": form.get("ErrorMessage") or f"Twilio error {code}",
        }
    return StatusUpdate(provider_message_id=form["MessageSid"], status=status, error=error)


def _media(form: dict[str, str], index: int, caption: str | None) -> Media:
    mime = form.get(f"MediaContentType{index}") or "application/octet-stream"
    kind = MEDIA_FAMILIES.get(mime.split("/")[0], "document")
    return Media(
        kind=kind,
        url=form[f"MediaUrl{index}"],
        mime_type=mime,
        caption=caption if index == 0 else None,
    )


def _coordinate(form: dict[str, str], field: str, bound: float) -> float:
    """A finite number within ±`bound`, else ValueError naming the field."""
    try:
        value = float(form[field])
    except ValueError:
        value = float("nan")
    if not -bound <= value <= bound:  # also refuses "nan" and "inf", which float() accepts
        raise ValueError(f"{field}={form[field]!r} is not a coordinate")
    return value
