"""Maps a channel kind to its adapter."""

from __future__ import annotations

from channels.base import ChannelAdapter
from channels.web import WebChannel

ADAPTERS: dict[str, ChannelAdapter] = {"web": WebChannel()}


def adapter_for(kind: str) -> ChannelAdapter:
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise ValueError(f"no adapter for channel kind {kind!r}") from None
