"""The `file` node: a media node that always sends a document."""

from __future__ import annotations

from flowlang.nodes.media import media_node

FILE = media_node("file", "document")
