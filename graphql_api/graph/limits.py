"""What one GraphQL request may ask for: depth, aliases, tokens, page size, introspection."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from models.errors import InvalidInput

MAX_DEPTH = 10
MAX_ALIASES = 15
MAX_TOKENS = 2_000
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50


def limit_extensions(
    development: bool, max_depth: int = MAX_DEPTH
) -> list[Callable[[], SchemaExtension]]:
    """Factories of the protective extensions; introspection only in development."""
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(QueryDepthLimiter, max_depth=max_depth),
        partial(MaxAliasesLimiter, max_alias_count=MAX_ALIASES),
        partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
    ]
    if not development:
        extensions.append(DisableIntrospection)
    return extensions


def page_size(first: int) -> int:
    """A requested page size, refused when outside 1..MAX_PAGE_SIZE."""
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise InvalidInput(f"`first` must be between 1 and {MAX_PAGE_SIZE} (got {first})")
    return first
