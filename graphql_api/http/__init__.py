"""Plain HTTP endpoints: file import/export, the web channel, provider webhooks, triggers."""
