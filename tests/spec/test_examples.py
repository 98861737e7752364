"""Every job of the user story in specs/examples/ parses, validates and round-trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.spec import (
    canonical,
    format_hcl,
    job_from_nomad,
    job_to_nomad,
    job_to_yaml,
    load_job_file,
    parse_job,
    render_job,
    spec_hash,
    validate,
)
from tests.spec.paths import EXAMPLE_FILES, EXAMPLES

STORY_JOBS = [
    "todo-java.nomad",
    "todo-java-scaled.nomad",
    "todo-java-scaled-service.nomad",
    "todo-java-scaled-service-header.nomad",
    "todo-java-scaled-service-header-canary.nomad",
    "consul.nomad",
    "fabio.nomad",
]

examples = pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.name for p in EXAMPLE_FILES])


def test_every_story_job_is_in_the_examples() -> None:
    assert {p.name for p in EXAMPLE_FILES} >= set(STORY_JOBS)


@examples
def test_example_parses_and_validates(path: Path) -> None:
    job = load_job_file(path)
    assert validate(job) == []
    assert job.task_groups


@examples
def test_example_round_trips_through_nomad_json(path: Path) -> None:
    job = load_job_file(path)
    wire = json.loads(json.dumps({"Job": job_to_nomad(job)}))
    assert job_from_nomad(wire) == job
    assert job_from_nomad(wire["Job"]) == job


@examples
def test_example_round_trips_through_canonical_hcl(path: Path) -> None:
    job = load_job_file(path)
    text = format_hcl(job)
    assert parse_job(text) == job
    assert format_hcl(parse_job(text)) == text


@examples
def test_example_round_trips_through_yaml(path: Path) -> None:
    job = load_job_file(path)
    assert parse_job(job_to_yaml(job), format="yaml") == job


def test_the_same_job_in_three_formats_has_one_hash() -> None:
    hcl = load_job_file(EXAMPLES / "todo-java.nomad")
    assert load_job_file(EXAMPLES / "todo-java.json") == hcl
    assert load_job_file(EXAMPLES / "todo-java.yaml") == hcl
    hashes = {spec_hash(load_job_file(EXAMPLES / f"todo-java.{ext}")) for ext in ("nomad", "json", "yaml")}
    assert len(hashes) == 1


def test_hash_changes_with_the_spec_and_ignores_formatting() -> None:
    base = load_job_file(EXAMPLES / "todo-java.nomad")
    reformatted = parse_job(format_hcl(base))
    scaled = load_job_file(EXAMPLES / "todo-java-scaled.nomad")
    assert spec_hash(base) == spec_hash(reformatted)
    assert spec_hash(base) != spec_hash(scaled)
    assert len(spec_hash(base)) == 64


def test_canonical_form_is_nomad_json_with_defaults() -> None:
    data = canonical(load_job_file(EXAMPLES / "todo-java.nomad"))
    group = data["TaskGroups"][0]
    assert data["ID"] == "todo"
    assert data["Type"] == "service"
    assert data["Priority"] == 50
    assert group["Update"]["MaxParallel"] == 1
    assert group["Update"]["HealthyDeadline"] == 300_000_000_000
    assert group["Networks"][0]["ReservedPorts"] == [
        {"Label": "http", "Value": 8080, "To": 0, "HostNetwork": ""}
    ]
    assert group["Tasks"][0]["Resources"]["MemoryMB"] == 256
    assert group["Tasks"][0]["Resources"]["CPU"] == 100


def test_story_details_are_read_as_written() -> None:
    header = load_job_file(EXAMPLES / "todo-java-scaled-service-header.nomad")
    group = header.task_groups[0]
    task = group.tasks[0]
    assert group.count == 5
    assert group.networks[0].ports[0].label == "http"
    assert group.networks[0].ports[0].static == 0
    assert (
        task.config["jvm_options"][3]
        == "-Dquarkus.http.header.TodoServer.value=${NOMAD_IP_http}:${NOMAD_PORT_http}"
    )
    service = group.services[0]
    assert service.name == "todo"
    assert service.port == "http"
    assert service.tags == ["urlprefix-/todo"]
    assert service.checks[0].interval == 2_000_000_000
    assert service.checks[0].path == "/"
    canary = load_job_file(EXAMPLES / "todo-java-scaled-service-header-canary.nomad").task_groups[0].update
    assert canary is not None
    assert canary.canary == 1
    assert canary.max_parallel == 5
    fabio = load_job_file(EXAMPLES / "fabio.nomad").task_groups[0].tasks[0]
    assert fabio.artifacts[0].destination == "local/fabio"
    assert fabio.artifacts[0].mode == "file"
    consul = load_job_file(EXAMPLES / "consul.nomad").task_groups[0].tasks[0]
    assert consul.driver == "raw_exec"
    assert consul.config == {"command": "consul", "args": ["agent", "-dev"]}


@pytest.mark.parametrize("output", ["json", "yaml", "hcl"])
def test_render_job_reads_back(output: str) -> None:
    job = load_job_file(EXAMPLES / "todo-java-scaled-service.nomad")
    assert parse_job(render_job(job, output), format=output) == job
