"""Integrations: each organization's credentials per kind, and payments."""
