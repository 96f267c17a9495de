"""Alembic migrations for the BotBuilder database."""
