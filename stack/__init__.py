"""The `botbuilder` command and the local stack it runs (PostgreSQL, Temporal, API, worker)."""
