"""Channel adapters: verify and parse inbound requests, send outbound messages."""
