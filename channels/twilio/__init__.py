"""Twilio WhatsApp and SMS: signed form webhooks in, the official `twilio` client out."""
