"""Data only: SQLAlchemy tables by domain, pydantic domain types, settings, Temporal payloads."""
