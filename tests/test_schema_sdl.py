"""The committed SDL matches the schema, so every schema change is visible in review."""

from __future__ import annotations

from graphql_api.schema import SDL_PATH, schema


def test_the_committed_sdl_is_current() -> None:
    assert SDL_PATH.read_text() == schema.as_str() + "\n", (
        "graphql_api/schema.graphql is stale: run `.venv/bin/python -m graphql_api.schema` "
        "and commit the result"
    )
