"""Output for people: Nomad-style key/value blocks, aligned tables, times, short ids."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence


def short(ident: str) -> str:
    return ident[:8]


def fmt_time(ts: float) -> str:
    if not ts:
        return "<none>"
    return dt.datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [list(header)] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells)


def kv(pairs: Sequence[tuple[str, object]]) -> str:
    width = max((len(k) for k, _ in pairs), default=0)
    return "\n".join(f"{k.ljust(width)} = {v}" for k, v in pairs)
