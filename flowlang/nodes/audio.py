"""The `audio` node: a media node that always sends audio."""

from __future__ import annotations

from flowlang.nodes.media import media_node

AUDIO = media_node("audio", "audio")
