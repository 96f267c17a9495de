"""The `video` node: a media node that always sends video."""

from __future__ import annotations

from flowlang.nodes.media import media_node

VIDEO = media_node("video", "video")
