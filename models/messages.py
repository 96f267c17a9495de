"""Channel-neutral messages: what a flow sends (`OutboundMessage`) and what a contact sends."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from models.text import UNSTORABLE

MAX_TEXT_LENGTH = 4096  # WhatsApp's own limit for a text message
MediaKind = Literal["image", "video", "audio", "document"]
OutboundKind = Literal[
    "text", "buttons", "list", "media", "location", "contact", "carousel", "template"
]
InboundKind = Literal[
    "text", "button", "list", "media", "location", "contact", "reaction", "unsupported"
]


class Button(BaseModel):
    """A reply button; `id` comes back as the inbound `payload` when it is chosen."""

    id: str
    title: str


class ListRow(BaseModel):
    id: str
    title: str
    description: str | None = None


class ListSection(BaseModel):
    title: str = ""
    rows: list[ListRow] = Field(default_factory=list)


class Media(BaseModel):
    kind: MediaKind
    url: str
    id: str | None = Field(default=None, description="The provider's media id, when it has one.")
    caption: str | None = None
    filename: str | None = None
    mime_type: str | None = None


class Location(BaseModel):
    latitude: float = Field(ge=-90, le=90, allow_inf_nan=False)
    longitude: float = Field(ge=-180, le=180, allow_inf_nan=False)
    name: str | None = None
    address: str | None = None


class Contact(BaseModel):
    name: str
    phone: str | None = None
    email: str | None = None


class Card(BaseModel):
    title: str
    description: str | None = None
    image_url: str | None = None
    buttons: list[Button] = Field(default_factory=list)


class TemplateMessage(BaseModel):
    """A provider-approved template (e.g. a WhatsApp template) with positional parameters."""

    name: str
    language: str = "es"
    parameters: list[str] = Field(default_factory=list)


class OutboundMessage(BaseModel):
    """One message from the bot; `kind` says which of the optional parts is meaningful."""

    kind: OutboundKind = "text"
    text: str | None = None
    buttons: list[Button] = Field(default_factory=list)
    sections: list[ListSection] = Field(default_factory=list)
    button_label: str | None = None
    media: Media | None = None
    location: Location | None = None
    contact: Contact | None = None
    cards: list[Card] = Field(default_factory=list)
    template: TemplateMessage | None = None

    def plain_text(self) -> str:
        """A text-only rendering; options are numbered 1, 2, 3 … across the whole message."""
        lines: list[str] = [self.text] if self.text else []
        number = 0

        def option(title: str, description: str | None = None) -> str:
            nonlocal number
            number += 1
            return f"{number}. {title}" + (f" — {description}" if description else "")

        lines += [option(button.title) for button in self.buttons]
        for section in self.sections:
            if section.title:
                lines.append(section.title)
            lines += [option(row.title, row.description) for row in section.rows]
        if self.media:
            lines += [line for line in (self.media.caption, self.media.url) if line]
        if self.location:
            place = self.location
            lines += [line for line in (place.name, place.address) if line]
            lines.append(f"https://maps.google.com/?q={place.latitude},{place.longitude}")
        if self.contact:
            lines += [f"{self.contact.name}"]
            lines += [line for line in (self.contact.phone, self.contact.email) if line]
        for card in self.cards:
            lines += [f"*{card.title}*"]
            lines += [line for line in (card.description, card.image_url) if line]
            lines += [option(button.title) for button in card.buttons]
        if self.template:
            lines.append(" ".join([self.template.name, *self.template.parameters]))
        return "\n".join(lines)


class InboundMessage(BaseModel):
    """One message from a contact, as parsed by a channel adapter."""

    provider_message_id: str
    kind: InboundKind = "text"
    text: str | None = None
    payload: str | None = Field(default=None, description="The chosen button or row id.")
    media: Media | None = None
    location: Location | None = None
    contact_name: str | None = None
    contacts: list[Contact] = Field(default_factory=list, description="Shared contact cards.")
    reply_to: str | None = Field(
        default=None, description="Provider id of the message this one reacts or replies to."
    )
    timestamp: str | None = Field(default=None, description="ISO 8601, as the provider sent it.")
    received_at: str | None = Field(
        default=None,
        description="ISO 8601, when our ingress accepted it (decides what it can "
        "answer: only a question sent before it arrived).",
    )

    @field_validator("text", "payload", "contact_name")
    @classmethod
    def storable(cls, value: str | None) -> str | None:
        """What a provider sent, made storable: NULs dropped, unpaired surrogates replaced,
        texts cut at `MAX_TEXT_LENGTH` characters (the channels' own limit)."""
        if value is None:
            return None
        cleaned = UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", value)
        return cleaned[:MAX_TEXT_LENGTH]

    def answer_text(self) -> str:
        """The answer this message gives: the chosen option id, the text, or what it shares."""
        if self.payload:
            return self.payload
        if self.text:
            return self.text
        if self.media:
            return self.media.url
        if self.location:
            return f"{self.location.latitude},{self.location.longitude}"
        return ""
