"""How the Temporal UI words a flow: durations, message prefixes, hidden text."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.messages import OutboundMessage
from models.payloads.engine import BotTraits
from workflows import summaries

OPEN, SENSITIVE = BotTraits(name="Tienda"), BotTraits(name="Clínica", sensitive_data=True)


@pytest.mark.parametrize(
    ("length", "shown"),
    [
        (timedelta(seconds=90), "90 s"),
        (timedelta(minutes=5), "5 min"),
        (timedelta(hours=2, minutes=30), "2 h 30 min"),
        (timedelta(days=3), "3 d"),
        (timedelta(days=1, seconds=30), "1 d"),
    ],
)
def test_durations_read_like_a_person_says_them(length: timedelta, shown: str) -> None:
    assert summaries.duration(length) == shown


def test_text_is_a_one_line_prefix_and_hidden_for_sensitive_bots() -> None:
    long = OutboundMessage(kind="text", text="Hola\n" + "muy " * 30)
    assert summaries.sent("`a` (message)", long, OPEN) == (
        "`a` (message): send “Hola muy muy muy muy muy muy muy muy muy muy muy muy muy…”"
    )
    assert summaries.sent("`a` (message)", long, SENSITIVE) == (
        "`a` (message): send (text hidden: sensitive data)"
    )
    image = OutboundMessage(
        kind="media", media={"kind": "image", "url": "https://cdn.example.com/x"}
    )
    assert summaries.sent("`b` (file)", image, OPEN) == "`b` (file): send image"
    menu = OutboundMessage(
        kind="buttons", text="¿Qué necesitas?", buttons=[{"id": "a", "title": "A"}]
    )
    assert (
        summaries.sent("`m` (button)", menu, OPEN) == "`m` (button): send buttons “¿Qué necesitas?”"
    )


def test_http_calls_show_the_method_and_host_only() -> None:
    url = "https://api.example.com/orders?dni=12345678Z"
    assert summaries.http_call("`o` (api)", "get", url) == "`o` (api): HTTP GET api.example.com"
    assert summaries.ended("failed", f"HTTP GET {url} failed", SENSITIVE) == "ended: failed"
