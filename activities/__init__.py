"""Activities: everything that touches the world (database writes, channel sends, HTTP calls)."""
