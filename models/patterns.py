"""User-supplied regular expressions (conditions, answer checks, trigger patterns), compiled by
RE2: matching takes time linear in the text whatever the pattern, so no pattern can stall a
worker. RE2 has no lookaround and no backreferences, and its `\\w`, `\\d`, `\\b` are ASCII
(`\\pL` is any letter)."""

from __future__ import annotations

from functools import lru_cache

import re2

MAX_PATTERN_LENGTH = 200


class PatternError(ValueError):
    """A pattern that is too long or that RE2 cannot compile."""


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str, *, ignore_case: bool = False) -> re2._Regexp:
    """The compiled pattern; raises `PatternError` with RE2's reason."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(f"regular expression longer than {MAX_PATTERN_LENGTH} characters")
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not ignore_case
    try:
        return re2.compile(pattern, options)
    except re2.error as error:
        reason = error.args[0] if error.args else error
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        raise PatternError(f"invalid regular expression {pattern!r}: {reason}") from None
