"""A periodic job's launch times (Nomad's `periodic`; its children: `children.py`).

Pure functions of their arguments (no clock): the launcher controller, `job periodic force`
and validation all use them. Cron expressions follow Nomad's (gorhill/cronexpr): five
fields (minute hour day-of-month month day-of-week), six (the same and a year), seven
(seconds first, then the six), or a name such as `@hourly` or `@daily`. croniter evaluates
them; the six- and seven-field forms are handed to it with the seconds first, as cronexpr
reads them. Times are read in the block's `time_zone` (an IANA name), so a daily launch
stays at its wall-clock hour across daylight saving changes.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter

from reconciler.model.job import Periodic

# croniter looks this many years ahead for a match before it gives up ("0 0 30 2 *")
SEARCH_YEARS = 50


def _croniter(expr: str, start: datetime) -> croniter:
    fields = expr.split()
    if expr.startswith("@") or len(fields) == 5:
        return croniter(expr, start, max_years_between_matches=SEARCH_YEARS)
    if len(fields) == 6:  # cronexpr: a year after the five fields, seconds 0
        fields.insert(0, "0")
    if len(fields) != 7:
        raise CroniterBadCronError(f"{len(fields)} fields")
    return croniter(" ".join(fields), start, second_at_beginning=True, max_years_between_matches=SEARCH_YEARS)


def cron_problem(expr: str) -> str | None:
    """Why `expr` is not a cron expression Nomad accepts, or None."""
    fields = expr.split()
    if not expr.startswith("@") and len(fields) not in (5, 6, 7):
        return (
            f"cron expression {expr!r} has {len(fields)} fields; want 5, 6 (with a year) or 7 (seconds first)"
        )
    try:
        _croniter(expr, datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC")))
    except (CroniterError, ValueError, KeyError) as exc:
        return f"invalid cron expression {expr!r}: {exc}"
    return None


def zone_problem(name: str) -> str | None:
    """Why `name` is not a time zone, or None."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f'unknown time zone {name!r} (an IANA name such as "UTC" or "Europe/Berlin")'
    return None


def _zone(p: Periodic) -> ZoneInfo:
    return ZoneInfo(p.time_zone or "UTC")


def next_launch(p: Periodic, after: float) -> float | None:
    """The first launch time strictly after `after` (unix seconds); None if no expression
    names one within the years croniter searches."""
    start = datetime.fromtimestamp(after, _zone(p))
    times = []
    for expr in p.specs():
        try:
            times.append(_croniter(expr, start).get_next(datetime).timestamp())
        except CroniterBadDateError:
            continue
    return min(times, default=None)


def latest_due(p: Periodic, after: float, now: float) -> float | None:
    """The latest launch time in (`after`, `now`], or None when none is due. Launches missed
    while no launcher ran are not replayed one by one: only the latest of them is due."""
    first = next_launch(p, after)
    if first is None or first > now:
        return None
    # croniter's previous match is strictly before its start: start just past `now`
    start = datetime.fromtimestamp(now + 0.001, _zone(p))
    times = [first]
    for expr in p.specs():
        try:
            times.append(_croniter(expr, start).get_prev(datetime).timestamp())
        except CroniterBadDateError:
            continue
    return float(int(max(t for t in times if t <= now)))
