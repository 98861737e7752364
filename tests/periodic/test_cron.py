"""Cron launch times, pure: Nomad's expression forms, time zones, missed launches."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from reconciler.model.job import Periodic
from reconciler.model.periodic import cron_problem, latest_due, next_launch, zone_problem

UTC = ZoneInfo("UTC")


def ts(text: str, zone: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


@pytest.mark.parametrize(
    ("periodic", "after", "want"),
    [
        pytest.param(
            Periodic(cron="*/15 * * * *"), "2026-01-01 12:07:00", "2026-01-01 12:15:00", id="five-fields"
        ),
        pytest.param(
            Periodic(cron="*/15 * * * *"), "2026-01-01 12:15:00", "2026-01-01 12:30:00", id="strictly-after"
        ),
        pytest.param(Periodic(cron="@daily"), "2026-01-01 12:00:00", "2026-01-02 00:00:00", id="named"),
        pytest.param(
            Periodic(cron="30 2 * * * 2027"),
            "2026-06-01 00:00:00",
            "2027-01-01 02:30:00",
            id="six-fields-year",
        ),
        pytest.param(
            Periodic(cron="10 0 9 * * * *"), "2026-01-01 09:00:05", "2026-01-01 09:00:10", id="seven-seconds"
        ),
        pytest.param(
            Periodic(crons=["0 12 * * *", "0 6 * * *"]),
            "2026-01-01 07:00:00",
            "2026-01-01 12:00:00",
            id="crons-earliest",
        ),
        pytest.param(Periodic(cron="0 0 1 1 * 2020"), "2026-01-01 00:00:00", None, id="never-again"),
    ],
)
def test_next_launch(periodic: Periodic, after: str, want: str | None) -> None:
    got = next_launch(periodic, ts(after))
    assert got == (ts(want) if want else None)


def test_time_zone_keeps_the_wall_clock_hour_across_dst() -> None:
    p = Periodic(cron="0 2 * * *", time_zone="Europe/Berlin")
    # the night clocks go forward (2026-03-29): 02:00 does not exist; the next day's is 02:00 CEST
    before = next_launch(p, ts("2026-03-27 12:00:00", "Europe/Berlin"))
    assert before == ts("2026-03-28 02:00:00", "Europe/Berlin")
    after = next_launch(p, ts("2026-03-29 12:00:00", "Europe/Berlin"))
    assert after == ts("2026-03-30 02:00:00", "Europe/Berlin")
    assert after is not None
    assert before is not None
    assert after - before == 2 * 86400 - 3600


@pytest.mark.parametrize(
    ("after", "now", "want"),
    [
        pytest.param("2026-01-01 12:00:00", "2026-01-01 12:04:59", None, id="not-yet"),
        pytest.param("2026-01-01 12:00:00", "2026-01-01 12:05:00", "2026-01-01 12:05:00", id="exactly-due"),
        pytest.param("2026-01-01 12:00:00", "2026-01-01 12:05:03", "2026-01-01 12:05:00", id="a-little-late"),
        pytest.param(
            "2026-01-01 12:00:00", "2026-01-01 14:12:00", "2026-01-01 14:10:00", id="missed-many-latest-only"
        ),
    ],
)
def test_latest_due(after: str, now: str, want: str | None) -> None:
    got = latest_due(Periodic(cron="*/5 * * * *"), ts(after), ts(now))
    assert got == (ts(want) if want else None)


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        pytest.param("*/5 * * * *", None, id="ok"),
        pytest.param("@hourly", None, id="named"),
        pytest.param("* * *", "has 3 fields", id="too-few"),
        pytest.param("61 * * * *", "invalid cron expression", id="out-of-range"),
        pytest.param("x * * * *", "invalid cron expression", id="garbage"),
    ],
)
def test_cron_problem(expr: str, problem: str | None) -> None:
    got = cron_problem(expr)
    if problem is None:
        assert got is None
    else:
        assert got is not None
        assert problem in got


@pytest.mark.parametrize(
    ("zone", "ok"),
    [
        pytest.param("UTC", True, id="utc"),
        pytest.param("America/New_York", True, id="iana"),
        pytest.param("Mars/Olympus", False, id="unknown"),
        pytest.param("../etc/passwd", False, id="path"),
    ],
)
def test_zone_problem(zone: str, ok: bool) -> None:
    assert (zone_problem(zone) is None) == ok
