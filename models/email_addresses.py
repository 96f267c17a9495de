"""Email addresses as flows and settings give them: one address, or a comma-separated list."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

ADDRESS = re.compile(r"^[^@\s<>,;:\"()\[\]]+@[^@\s<>,;:\"()\[\]]+\.[^@\s<>,;:\"()\[\].]+$")


def split_addresses(text: str) -> list[str]:
    """The addresses of a comma- or semicolon-separated list, stripped, empties dropped."""
    return [part.strip() for part in re.split(r"[,;]", text) if part.strip()]


def bad_addresses(addresses: list[str]) -> list[str]:
    """Those of `addresses` that are not a plain `local@domain.tld` address."""
    return [address for address in addresses if not ADDRESS.match(address)]


def _one_address(text: str) -> str:
    text = text.strip()
    if bad_addresses([text]):
        raise ValueError(f"{text!r} is not an email address")
    return text


EmailAddress = Annotated[str, AfterValidator(_one_address)]
