"""Fuzzing the job file readers (HCL, JSON, YAML) and the API's job decoding: random and
mutated input only ever raises SpecError (or parses). Budgets and counts: tests/fuzzing.py."""

from __future__ import annotations

import contextlib
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from reconciler.spec import SpecError, job_from_nomad, job_to_nomad, parse_job
from tests.fuzzing import budget, fuzz_settings, json_shaped, mutated, tried
from tests.spec.paths import EXAMPLE_FILES

FUZZ = fuzz_settings(60)
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
    tried("spec: random HCL")
    parses_or_spec_error(text, "hcl")


@FUZZ
@given(st.text(max_size=200))
def test_random_text_only_raises_spec_error(text: str) -> None:
    tried("spec: random text as HCL, YAML and JSON")
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
    tried("spec: random Nomad JSON")
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
    for _ in range(budget(25)):
        tried("spec: mutated example files (text)")
        parses_or_spec_error(mutate(text, rng), FORMATS[path.suffix])


def test_yaml_alias_bomb_is_refused() -> None:
    levels = ['x0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    levels += [f"x{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 7)]
    text = "\n".join(levels) + "\njob:\n  a:\n    meta:\n      k: *a6\n"
    with pytest.raises(SpecError) as info:
        parse_job(text, format="yaml")
    assert any("expands to more than" in e.message for e in info.value.errors)


# the words of the job file formats (HCL's blocks and attributes as YAML keys, the API's fields)
HCL_WORDS = [
    "job", "group", "task", "driver", "config", "count", "network", "port", "static", "to",
    "service", "check", "resources", "cpu", "memory", "meta", "env", "update", "constraint",
    "attribute", "value", "operator", "template", "artifact", "volume", "restart", "lifecycle",
    "type", "datacenters", "periodic", "parameterized", "scaling", "min", "max", "name", "tags",
]  # fmt: skip
API_WORDS = [
    "ID", "Name", "Type", "TaskGroups", "Tasks", "Count", "Driver", "Config", "Networks",
    "DynamicPorts", "ReservedPorts", "Label", "Value", "To", "Services", "Checks", "Resources",
    "CPU", "MemoryMB", "Meta", "Env", "Update", "Constraints", "LTarget", "RTarget", "Operand",
    "Templates", "Artifacts", "Volumes", "RestartPolicy", "Lifecycle", "Periodic", "Scaling",
]  # fmt: skip
STRUCTURED = [p for p in EXAMPLE_FILES if p.suffix in (".json", ".yaml")]
YAML_SAFE = YAML(typ="safe", pure=True)


def document(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else YAML_SAFE.load(text)


def api_documents() -> list[Any]:
    """Every HCL example as the API's JSON (what `nomad job run -json` and the UI send)."""
    out = []
    for path in EXAMPLE_FILES:
        if path.suffix == ".nomad":
            with contextlib.suppress(SpecError):  # an example that needs variables
                out.append({"Job": job_to_nomad(parse_job(path.read_text(encoding="utf-8")))})
    return out


def yaml_text(data: Any) -> str:
    out = io.StringIO()
    YAML_SAFE.dump(data, out)
    return out.getvalue()


@pytest.mark.parametrize("path", STRUCTURED, ids=[p.name for p in STRUCTURED])
def test_mutated_structured_examples_only_raise_spec_error(path: Path) -> None:
    """A JSON or YAML example with one value replaced or deleted, anywhere in it, read in its
    own format (and a YAML one written as JSON, which YAML also reads)."""
    words = API_WORDS if path.suffix == ".json" else HCL_WORDS

    @FUZZ
    @given(mutated(document(path), json_shaped(words)))
    def run(data: Any) -> None:
        tried("spec: mutated JSON and YAML examples (structure)")
        if path.suffix == ".json":
            parses_or_spec_error(json.dumps(data), "json")
        else:
            parses_or_spec_error(yaml_text(data), "yaml")
            parses_or_spec_error(json.dumps(data), "yaml")

    run()


@FUZZ
@given(st.sampled_from(api_documents()).flatmap(lambda doc: mutated(doc, json_shaped(API_WORDS))))
def test_mutated_api_jobs_only_raise_spec_error(data: Any) -> None:
    """The API's job decoding (a register or plan body) of a valid job with one value
    replaced or deleted, and the same document as a JSON job file."""
    tried("spec: mutated API job JSON (structure)")
    if isinstance(data, dict):
        with contextlib.suppress(SpecError):
            job_from_nomad(data)
    parses_or_spec_error(json.dumps(data), "json")
