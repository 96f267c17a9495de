"""Deterministic Temporal workflow code: conversations, flow runs and the node interpreter."""
