"""Channel-neutral messages as Graph API `/messages` bodies, within WhatsApp's limits.

Options go out as reply buttons (at most 3), else as a list (at most 10 rows), else as a
numbered text menu; the engine accepts the typed number as the answer either way.
"""

from __future__ import annotations

from typing import Any

from models.messages import ListRow, ListSection, OutboundMessage

MAX_BUTTONS, MAX_ROWS = 3, 10
BUTTON_TITLE, ROW_TITLE, ROW_DESCRIPTION, SECTION_TITLE, LIST_BUTTON = 20, 24, 72, 24, 20
MAX_BODY, MAX_TEXT = 1024, 4096
DEFAULT_LIST_BUTTON = "Ver opciones"
CAPTIONED = ("image", "video", "document")


def message_body(to: str, message: OutboundMessage) -> dict[str, Any]:
    """The JSON body that sends `message` to the WhatsApp user `to`."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        **_content(message),
    }


def read_receipt(message_id: str) -> dict[str, Any]:
    """The body that marks an inbound message as read (blue ticks)."""
    return {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}


def _content(message: OutboundMessage) -> dict[str, Any]:
    kind = message.kind
    if kind == "buttons" and message.buttons:
        if len(message.buttons) <= MAX_BUTTONS and _fits_body(message):
            return _buttons(message)
        rows = ListSection(rows=[ListRow(id=b.id, title=b.title) for b in message.buttons])
        return _list_or_text(message, [rows])
    if kind == "list" and message.sections:
        return _list_or_text(message, message.sections)
    if kind == "media" and message.media:
        media = message.media
        body: dict[str, Any] = {"link": media.url}
        if media.caption and media.kind in CAPTIONED:
            body["caption"] = media.caption
        if media.filename and media.kind == "document":
            body["filename"] = media.filename
        return {"type": media.kind, media.kind: body}
    if kind == "location" and message.location:
        return {"type": "location", "location": message.location.model_dump(exclude_none=True)}
    if kind == "contact" and message.contact:
        return {"type": "contacts", "contacts": [_contact_card(message)]}
    if kind == "template" and message.template:
        return _template(message)
    return _text(message.plain_text())


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": text[:MAX_TEXT], "preview_url": False}}


def _fits_body(message: OutboundMessage) -> bool:
    return len(message.text or "") <= MAX_BODY


def _body_text(message: OutboundMessage) -> str:
    return message.text or "👇"


def _buttons(message: OutboundMessage) -> dict[str, Any]:
    buttons = [
        {"type": "reply", "reply": {"id": button.id, "title": _cut(button.title, BUTTON_TITLE)}}
        for button in message.buttons
    ]
    return {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": _body_text(message)},
            "action": {"buttons": buttons},
        },
    }


def _list_or_text(message: OutboundMessage, sections: list[ListSection]) -> dict[str, Any]:
    if sum(len(section.rows) for section in sections) > MAX_ROWS or not _fits_body(message):
        return _text(message.model_copy(update={"sections": sections, "buttons": []}).plain_text())
    titled = len(sections) > 1
    action = {
        "button": _cut(message.button_label or DEFAULT_LIST_BUTTON, LIST_BUTTON),
        "sections": [
            {
                **({"title": _cut(section.title or "-", SECTION_TITLE)} if titled else {}),
                "rows": [_row(row.id, row.title, row.description) for row in section.rows],
            }
            for section in sections
        ],
    }
    return {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": _body_text(message)},
            "action": action,
        },
    }


def _row(row_id: str, title: str, description: str | None) -> dict[str, Any]:
    row = {"id": row_id, "title": _cut(title, ROW_TITLE)}
    if description:
        row["description"] = _cut(description, ROW_DESCRIPTION)
    return row


def _contact_card(message: OutboundMessage) -> dict[str, Any]:
    contact = message.contact
    assert contact is not None
    card: dict[str, Any] = {
        "name": {"formatted_name": contact.name, "first_name": contact.name.split(" ")[0]}
    }
    if contact.phone:
        card["phones"] = [{"phone": contact.phone, "type": "CELL"}]
    if contact.email:
        card["emails"] = [{"email": contact.email, "type": "WORK"}]
    return card


def _template(message: OutboundMessage) -> dict[str, Any]:
    template = message.template
    assert template is not None
    body: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
    if template.parameters:
        parameters = [{"type": "text", "text": value} for value in template.parameters]
        body["components"] = [{"type": "body", "parameters": parameters}]
    return {"type": "template", "template": body}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
