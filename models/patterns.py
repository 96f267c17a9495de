"""User-supplied regular expressions (conditions, answer checks, trigger patterns), compiled by
RE2: matching takes time linear in the text whatever the pattern, so no pattern can stall a
worker. RE2 has no lookaround and no backreferences. `\\w`, `\\d`, `\\s` and their negations
are rewritten to Unicode classes so they match what Python's `re` matches (flows were written
against it: `^\\w+$` still matches "José"); `\\b` stays ASCII."""

from __future__ import annotations

from functools import lru_cache

import re2

MAX_PATTERN_LENGTH = 200
_UNICODE = {"w": r"\p{L}\p{N}_", "d": r"\p{Nd}", "s": r"\s\v\p{Z}\x{85}"}


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
        return re2.compile(unicode_classes(pattern), options)
    except re2.error as error:
        reason = error.args[0] if error.args else error
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        raise PatternError(f"invalid regular expression {pattern!r}: {reason}") from None


def unicode_classes(pattern: str) -> str:
    """`pattern` with Python's Unicode meaning of `\\w \\d \\s` (and `\\W \\D \\S` outside
    brackets) spelled out for RE2, whose shorthands are ASCII-only."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            if escaped.lower() in _UNICODE and not (in_class and escaped.isupper()):
                members = _UNICODE[escaped.lower()]
                if in_class:
                    out.append(members)
                else:
                    out.append(f"[^{members}]" if escaped.isupper() else f"[{members}]")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
            out.append(char)
            i += 1
            if pattern[i : i + 1] == "^":  # a `]` right after `[` or `[^` is a member
                out.append("^")
                i += 1
            if pattern[i : i + 1] == "]":
                out.append("]")
                i += 1
            continue
        if char == "]" and in_class:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)
