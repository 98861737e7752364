"""Durations as Nomad writes them (Go's `time.ParseDuration`), read to nanoseconds."""

from __future__ import annotations

import pytest

from reconciler.model.job import SECOND
from reconciler.spec.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("10s", 10 * SECOND),
        ("1m30s", 90 * SECOND),
        ("1.5s", 1_500_000_000),
        ("250ms", 250_000_000),
        ("0", 0),
        ("-2s", -2 * SECOND),
        ("10s\n", None),  # "$" alone would accept a final newline
        ("10", None),
        ("s", None),
        ("", None),
    ],
)
def test_parse(text: str, ns: int | None) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("ns", [0, SECOND, 90 * SECOND, 1_500_000_000, 3600 * SECOND])
def test_format_reads_back(ns: int) -> None:
    assert parse_duration(format_duration(ns)) == ns
