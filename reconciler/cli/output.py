"""Output for people: Nomad-style key/value blocks, aligned tables, times, short ids.

Times from the API are nanoseconds since the epoch. `fmt_time` is the one way to print an
instant (local time, ISO 8601 to the second) and `ago` the one way to print an age.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence


def short(ident: str) -> str:
    return ident[:8]


def fmt_time(ns: int | float) -> str:
    """An instant in nanoseconds as local ISO 8601 (`<none>` for 0, the API's "unset")."""
    if not ns:
        return "<none>"
    return dt.datetime.fromtimestamp(ns / 1e9).astimezone().isoformat(timespec="seconds")


def now() -> str:
    """The current time, as monitors prefix their lines."""
    return fmt_time(time.time_ns())


def ago(ns: int, *, now_ns: int | None = None) -> str:
    """How long before `now_ns` (default: now) an instant in nanoseconds was, in its two
    largest units (`4m2s ago`, `3h5m ago`, `2d1h ago`), as Nomad prints ages; `<none>` for 0."""
    if not ns:
        return "<none>"
    secs = max(0, (time.time_ns() if now_ns is None else now_ns) - ns) // 10**9
    if secs < 60:
        return f"{secs}s ago"
    if secs < 3600:
        return f"{secs // 60}m{secs % 60}s ago"
    if secs < 86400:
        return f"{secs // 3600}h{secs % 3600 // 60}m ago"
    return f"{secs // 86400}d{secs % 86400 // 3600}h ago"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [list(header)] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells)


def kv(pairs: Sequence[tuple[str, object]]) -> str:
    width = max((len(k) for k, _ in pairs), default=0)
    return "\n".join(f"{k.ljust(width)} = {v}" for k, v in pairs)
