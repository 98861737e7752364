"""Fuzzing: random and mutated input only ever raises SpecError (or parses)."""

from __future__ import annotations

import contextlib
import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.spec import SpecError, job_from_nomad, parse_job
from tests.spec.paths import EXAMPLE_FILES

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HCL_ALPHABET = st.sampled_from(
    [
        *list('job"todo{}[]()=,.:?!<>+-*/%&|$#\n \t0123456789abcdefvarlocal_${}'),
        "job",
        "group",
        "task",
        "variable",
        "locals",
        "${",
        "var.",
        "local.",
        "<<EOT\n",
        "\nEOT\n",
        "count",
        "=",
        "true",
        "null",
        "for",
        "in",
        "%{",
        "\\",
        "\\u",
        "upper(",
        "...",
    ]
)


def parses_or_spec_error(text: str, fmt: str) -> None:
    try:
        parse_job(text, format=fmt)
    except SpecError as exc:
        assert_well_formed(exc)


def assert_well_formed(exc: SpecError) -> None:
    """A refused file names at least one issue, each printable, none a wrapped crash."""
    assert exc.errors
    assert all(isinstance(str(e), str) for e in exc.errors)
    # the loaders' last-resort wrapping of an unexpected exception must never be needed
    assert not any(e.message.startswith("cannot read the job:") for e in exc.errors), exc


@FUZZ
@given(st.lists(HCL_ALPHABET, max_size=60).map("".join))
def test_random_hcl_only_raises_spec_error(text: str) -> None:
    parses_or_spec_error(text, "hcl")


@FUZZ
@given(st.text(max_size=200))
def test_random_text_only_raises_spec_error(text: str) -> None:
    for fmt in ("hcl", "yaml", "json"):
        parses_or_spec_error(text, fmt)


json_values: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "ID",
                    "TaskGroups",
                    "Tasks",
                    "Name",
                    "Count",
                    "Networks",
                    "ReservedPorts",
                    "Services",
                    "Checks",
                    "Update",
                    "Config",
                    "Resources",
                    "Meta",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


@FUZZ
@given(json_values)
def test_random_nomad_json_only_raises_spec_error(data: Any) -> None:
    with contextlib.suppress(SpecError):
        job_from_nomad(data)
    parses_or_spec_error(json.dumps({"Job": data}), "json")


def mutate(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(["delete", "insert", "duplicate", "swap"])
        i = rng.randrange(len(chars)) if chars else 0
        if op == "delete" and chars:
            del chars[i : i + rng.randint(1, 8)]
        elif op == "insert":
            chars[i:i] = list(
                rng.choice(['"', "{", "}", "[", "]", "=", "\n", "${", "$", "#", "-1", "x", "<<EOT\n", "\\"])
            )
        elif op == "duplicate" and chars:
            j = rng.randrange(len(chars))
            chars[i:i] = chars[j : j + rng.randint(1, 30)]
        elif chars:
            j = rng.randrange(len(chars))
            chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


FORMATS = {".nomad": "hcl", ".json": "json", ".yaml": "yaml"}


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.name for p in EXAMPLE_FILES])
def test_mutated_examples_only_raise_spec_error(path: Any) -> None:
    rng = random.Random(path.name)  # seeded: a failure replays
    text = path.read_text(encoding="utf-8")
    for _ in range(25):
        parses_or_spec_error(mutate(text, rng), FORMATS[path.suffix])


def test_yaml_alias_bomb_is_refused() -> None:
    levels = ['x0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    levels += [f"x{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 7)]
    text = "\n".join(levels) + "\njob:\n  a:\n    meta:\n      k: *a6\n"
    with pytest.raises(SpecError) as info:
        parse_job(text, format="yaml")
    assert any("expands to more than" in e.message for e in info.value.errors)
