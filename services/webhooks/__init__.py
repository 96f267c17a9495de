"""Outgoing webhooks: signing and retry rules, endpoint management, the transactional outbox."""
