"""The fuzz suite's budget and its count of inputs tried (docs/security.md, "Fuzzing").

Every fuzz test runs under `fuzz_settings`: a fixed number of examples, no deadline, no
example database and a derandomized search, so `make test` tries the same inputs on every
machine and a failure replays. `FUZZ_EXAMPLES=N` gives every fuzz test N examples and a
random search instead (a longer campaign; hypothesis prints the failing input and a
`@reproduce_failure` blob to replay it). Each test calls `tried(name)` once per input;
the session's summary (tests/conftest.py) prints the counts.
"""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import HealthCheck, settings

CAMPAIGN = os.environ.get("FUZZ_EXAMPLES", "")

TRIED: Counter[str] = Counter()
OUTCOMES: dict[str, Counter[str]] = {}


def fuzz_settings(examples: int) -> settings:
    """`examples` inputs (FUZZ_EXAMPLES instead when set), reproducible unless in a campaign."""
    return settings(
        max_examples=int(CAMPAIGN) if CAMPAIGN else examples,
        deadline=None,
        derandomize=not CAMPAIGN,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )


def tried(name: str, outcome: str = "") -> None:
    """Count one input of the fuzz target `name` (explicit examples and shrinking included),
    and what came of it (`outcome`, such as "4xx"), so a summary shows how deep it got."""
    TRIED[name] += 1
    if outcome:
        OUTCOMES.setdefault(name, Counter())[outcome] += 1


def summary() -> list[str]:
    """One line per fuzz target: its count of inputs, and its outcomes when it gave them."""
    lines = []
    for name, count in sorted(TRIED.items()):
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(OUTCOMES.get(name, Counter()).items()))
        lines.append(f"{name}: {count} inputs" + (f" ({outcomes})" if outcomes else ""))
    return lines
