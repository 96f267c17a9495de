"""SQLAlchemy tables, the database session, settings and the pydantic domain types."""
