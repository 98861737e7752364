"""Go-style durations ("10s", "1m30s", "250ms") to integer nanoseconds and back.

Job files write durations as text; the model and Nomad's API carry nanoseconds. Both
directions live here so `format_hcl` writes what the parser reads.
"""

from __future__ import annotations

import re

from reconciler.model.job import HOUR, MINUTE, SECOND

_UNITS: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$")


def parse_duration(text: str) -> int | None:
    """Nanoseconds for a duration such as "1h30m", or None if `text` is not one."""
    if text in ("0", "-0"):
        return 0
    if text.startswith("-"):
        rest = parse_duration(text[1:])
        return -rest if rest is not None else None
    if not _WHOLE.fullmatch(text):
        return None
    total = 0.0
    for number, unit in _PART.findall(text):
        total += float(number) * _UNITS[unit]
    return round(total)


def format_duration(ns: int) -> str:
    """The shortest exact text for `ns` nanoseconds ("5m", "1h30m", "1500ms", "0s")."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    rest = abs(ns)
    if rest % SECOND:
        for unit in ("ms", "us", "ns"):
            size = _UNITS[unit]
            if rest % size == 0:
                return f"{sign}{rest // size}{unit}"
    parts = []
    for unit in ("h", "m", "s"):
        size = _UNITS[unit]
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return sign + "".join(parts)
