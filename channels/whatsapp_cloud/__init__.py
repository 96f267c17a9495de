"""WhatsApp Cloud API: webhook verification and parsing, Graph API sends, outbound shapes."""
