"""The fuzz suite's budget and its count of inputs tried (docs/security.md, "Fuzzing").

Every fuzz test runs under `fuzz_settings`: a fixed number of examples, no deadline, no
example database and a derandomized search, so `make test` tries the same inputs on every
machine and a failure replays. `FUZZ_EXAMPLES=N` gives every fuzz test N examples and a
random search instead (a longer campaign; hypothesis prints the failing input and a
`@reproduce_failure` blob to replay it). Each test calls `tried(name)` once per input;
the session's summary prints the counts (tests/summaries.py carries them from the workers).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

CAMPAIGN = os.environ.get("FUZZ_EXAMPLES", "")

TRIED: Counter[str] = Counter()
OUTCOMES: dict[str, Counter[str]] = {}


def budget(examples: int) -> int:
    """`examples`, or FUZZ_EXAMPLES in a campaign."""
    return int(CAMPAIGN) if CAMPAIGN else examples


def fuzz_settings(examples: int) -> settings:
    """`examples` inputs (FUZZ_EXAMPLES instead when set), reproducible unless in a campaign."""
    return settings(
        max_examples=budget(examples),
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


def summary(tried: Counter[str], outcomes_of: dict[str, Counter[str]]) -> list[str]:
    """One line per fuzz target: its count of inputs, and its outcomes when it gave them."""
    lines = []
    for name, count in sorted(tried.items()):
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(outcomes_of.get(name, Counter()).items()))
        lines.append(f"{name}: {count} inputs" + (f" ({outcomes})" if outcomes else ""))
    return lines


def json_shaped(keys: Sequence[str]) -> st.SearchStrategy[Any]:
    """JSON values of random shapes, their object keys drawn from `keys` (a format's own
    words, so that some get past the first check) or random text."""
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(st.one_of(st.sampled_from(list(keys)), st.text(max_size=6)), inner, max_size=4),
        ),
        max_leaves=10,
    )


@st.composite
def mutated(draw: st.DrawFn, template: Any, values: st.SearchStrategy[Any]) -> Any:
    """`template` (a valid document) with one value somewhere in it replaced by one of
    `values` or deleted: random input that gets past the checks a valid document passes."""
    document = json.loads(json.dumps(template))
    node: Any = document
    while True:
        keys: list[Any] = list(node) if isinstance(node, dict) else []
        keys = list(range(len(node))) if isinstance(node, list) else keys
        if not keys:
            return draw(values)
        key = draw(st.sampled_from(keys))
        if draw(st.integers(0, 3)) == 0 or not isinstance(node[key], dict | list):
            if isinstance(node, dict) and draw(st.booleans()):
                del node[key]
            else:
                node[key] = draw(values)
            return document
        node = node[key]
