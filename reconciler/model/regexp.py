"""Regular expressions supplied by jobs (`regexp` constraints), matched in linear time.

Python's `re` backtracks: `^(a+)+$` against `"a"*40+"!"` runs for hours while holding the
GIL, and a job supplies both the pattern and (with a literal attribute) the subject, so
one job froze every scheduler that took the evaluation in turn (review finding H7). RE2,
the engine behind Nomad's Go `regexp`, matches in time linear in the subject and has no
backreferences; the spec layer compiles each pattern at submission so a bad one is
refused with the field's name instead of silently never matching.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

MAX_PATTERN = 4096


class RegexpError(ValueError):
    """A pattern RE2 cannot compile, or one that is too long."""


_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # errors are reported to the caller, not printed by the C++ library


@lru_cache(maxsize=256)
def compile_regexp(pattern: str) -> Any:
    """The compiled pattern (RE2 syntax, as Nomad's); RegexpError says what is wrong."""
    if len(pattern) > MAX_PATTERN:
        raise RegexpError(f"regular expression is {len(pattern)} characters; the limit is {MAX_PATTERN}")
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = (
            exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        )
        raise RegexpError(f"invalid regular expression {pattern!r}: {reason}") from None


def search(pattern: str, text: str) -> bool:
    return compile_regexp(pattern).search(text) is not None
