"""The `quickReply` node: quick-reply options, offered and matched like reply buttons."""

from __future__ import annotations

from flowlang.nodes.button import button_node

QUICK_REPLY = button_node("quickReply")
