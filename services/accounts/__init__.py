"""Accounts: organizations, people, invitations, API keys, session tokens and log-in limits."""
