"""Deterministic Temporal workflow code (conversations, flow runs, outreaches, webhook deliveries)
and the clients that start and signal them."""
