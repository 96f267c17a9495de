"""Bots: managing bots and channels, publishing, bots-as-code files (load, export, sync)."""
