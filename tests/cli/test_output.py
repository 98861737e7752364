"""The CLI's one age and time formatting (pure functions, a fixed "now")."""

from __future__ import annotations

import datetime as dt

import pytest

from reconciler.cli.output import ago, fmt_time, kv, table

S = 10**9
NOW = 1_700_000_000 * S


@pytest.mark.parametrize(
    ("age_s", "text"),
    [
        pytest.param(0, "0s ago", id="just-now"),
        pytest.param(59, "59s ago", id="seconds"),
        pytest.param(60, "1m0s ago", id="one-minute"),
        pytest.param(3599, "59m59s ago", id="minutes-and-seconds"),
        pytest.param(3600 + 5 * 60 + 7, "1h5m ago", id="hours-and-minutes"),
        pytest.param(2 * 86400 + 3 * 3600 + 59, "2d3h ago", id="days-and-hours"),
        pytest.param(-30, "0s ago", id="clock-skew-is-not-negative"),
    ],
)
def test_ago(age_s: int, text: str) -> None:
    assert ago(NOW - age_s * S, now_ns=NOW) == text


def test_unset_times_read_none() -> None:
    assert ago(0, now_ns=NOW) == "<none>"
    assert fmt_time(0) == "<none>"


def test_fmt_time_is_local_iso_to_the_second() -> None:
    text = fmt_time(NOW + 123_456_789)
    assert "." not in text
    assert dt.datetime.fromisoformat(text).timestamp() == NOW // S


def test_table_aligns_columns_and_kv_aligns_keys() -> None:
    assert (
        table(["ID", "Status"], [["a", "running"], ["bbbb", "x"]]) == "ID    Status\na     running\nbbbb  x"
    )
    assert kv([("ID", 1), ("Status", "ok")]) == "ID     = 1\nStatus = ok"
