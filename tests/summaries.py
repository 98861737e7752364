"""The session summary's sections (the fuzz inputs tried, the fault recovery figures),
carried from the process that ran a test to the one that prints the summary.

`make test` runs the suite in two pytest-xdist workers: what a worker counted lives in its
own process. So each test's share (the inputs its fuzz targets tried, the figures it
recorded) rides on its teardown report's `user_properties`, which xdist sends to the
controller; the controller adds the shares up and prints them. A run without workers goes
the same way, through its own reports.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests import fuzzing
from tests.faults import figures

KEY = "session-summary"

_tried: Counter[str] = Counter()
_outcomes: dict[str, Counter[str]] = {}
_figures: list[str] = []


def share() -> dict[str, Any]:
    """What this process counted since its last share, taken out of its counters (plain
    data: xdist serialises it)."""
    got = {
        "tried": dict(fuzzing.TRIED),
        "outcomes": {name: dict(counts) for name, counts in fuzzing.OUTCOMES.items()},
        "figures": [fig.line() for fig in figures.RECORDED],
    }
    fuzzing.TRIED.clear()
    fuzzing.OUTCOMES.clear()
    figures.RECORDED.clear()
    return got


def attach(report: pytest.TestReport) -> None:
    """Put this process's share on a teardown report (nothing if there is none)."""
    got = share()
    if any(got.values()):
        report.user_properties.append((KEY, got))


def collect(report: pytest.TestReport) -> None:
    """Add a report's share to the session's totals (in the process that prints them)."""
    for key, value in report.user_properties:
        if key != KEY:
            continue
        _tried.update(value["tried"])
        for name, counts in value["outcomes"].items():
            _outcomes.setdefault(name, Counter()).update(counts)
        _figures.extend(value["figures"])


def sections() -> list[tuple[str, list[str]]]:
    """The summary's sections that have something to say: (title, lines)."""
    out = []
    if _figures:
        out.append(("fault recovery figures (issue 13)", list(_figures)))
    if _tried:
        out.append(("fuzz inputs tried", fuzzing.summary(_tried, _outcomes)))
    return out
