"""Property tests over generated jobs: every representation reads back to the same job."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings

from reconciler.model.job import Job
from reconciler.spec import (
    canonical,
    diff_jobs,
    format_hcl,
    job_from_nomad,
    job_to_nomad,
    job_to_yaml,
    spec_hash,
)
from reconciler.spec.defaults import fill_defaults
from reconciler.spec.diff import DiffType
from reconciler.spec.loader import read_job
from tests.factories import mock_job
from tests.spec.strategies import jobs

FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(jobs)
def test_nomad_json_round_trip_is_exact(job: Job) -> None:
    wire = json.loads(json.dumps({"Job": job_to_nomad(job)}))
    assert job_from_nomad(wire) == job


@FAST
@given(jobs)
def test_canonical_hcl_round_trip_is_exact(job: Job) -> None:
    text = format_hcl(job)
    again = read_job(text)
    assert again == job
    assert format_hcl(again) == text


@pytest.mark.parametrize("key", ["A\n", "a\nb", "A\r", "job", "0a", "a.b"])
def test_a_map_key_that_is_not_a_plain_identifier_is_written_quoted(key: str) -> None:
    """Found by the property above: a key with a final newline matched the identifier rule's
    "$" and was written bare, which does not parse."""
    job = fill_defaults(mock_job(1, meta={key: "v"}))
    text = format_hcl(job)
    assert read_job(text) == job


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jobs)
def test_yaml_round_trip_is_exact(job: Job) -> None:
    assert read_job(job_to_yaml(job), format="yaml") == job


@FAST
@given(jobs)
def test_hash_is_a_function_of_the_canonical_form(job: Job) -> None:
    copy = job_from_nomad(canonical(job))
    assert spec_hash(copy) == spec_hash(job)


@FAST
@given(jobs)
def test_a_job_does_not_differ_from_itself(job: Job) -> None:
    diff = diff_jobs(job, job_from_nomad(job_to_nomad(job)))
    assert diff.type == DiffType.NONE
    assert all(g.type == DiffType.NONE and not g.destructive for g in diff.task_groups)


@FAST
@given(jobs)
def test_fmt_keeps_the_job_and_is_idempotent(job: Job) -> None:
    from reconciler.spec.hcl_fmt import format_hcl_text

    lines = format_hcl(job).split("\n")  # badly indented, with extra spaces around each `=`
    messy = "\n".join(re.sub(r"^(\s*[A-Za-z_][\w-]*) = ", r"   \1   =  ", line, count=1) for line in lines)
    text = format_hcl_text(messy)
    assert read_job(text) == job
    assert format_hcl_text(text) == text
