"""The group's `migrate` block: HCL, Nomad JSON and YAML, with Nomad's defaults and checks."""

from __future__ import annotations

import json

import pytest

from reconciler.model.job import MINUTE, SECOND, HealthCheck, Job, MigrateStrategy
from reconciler.spec import diff_jobs, format_hcl, job_from_nomad, job_to_nomad, job_to_yaml, validate
from reconciler.spec.loader import read_job


def _job(migrate: str) -> str:
    return f"""
job "web" {{
  group "g" {{
    {migrate}
    task "t" {{
      driver = "raw_exec"
      config {{ command = "/bin/sleep" }}
    }}
  }}
}}
"""


def _migrate(job: Job) -> MigrateStrategy:
    return job.task_groups[0].migrate


@pytest.mark.parametrize(
    ("block", "want"),
    [
        ("", MigrateStrategy(1, HealthCheck.CHECKS, 10 * SECOND, 5 * MINUTE)),
        ("migrate {}", MigrateStrategy()),
        ('migrate { min_healthy_time = "1s" }', MigrateStrategy(min_healthy_time=SECOND)),
        (
            'migrate {\n max_parallel = 2\n health_check = "task_states"\n'
            ' min_healthy_time = "15s"\n healthy_deadline = "1m"\n}',
            MigrateStrategy(2, HealthCheck.TASK_STATES, 15 * SECOND, MINUTE),
        ),
    ],
    ids=["absent-defaults", "empty-defaults", "one-field", "every-field"],
)
def test_hcl_migrate_block(block: str, want: MigrateStrategy) -> None:
    assert _migrate(read_job(_job(block))) == want


@pytest.mark.parametrize(
    "block",
    [
        "",
        'migrate { max_parallel = 3\n health_check = "task_states"\n'
        ' min_healthy_time = "2s"\n healthy_deadline = "90s" }',
    ],
    ids=["default", "custom"],
)
def test_migrate_round_trips(block: str) -> None:
    job = read_job(_job(block))
    assert read_job(format_hcl(job)) == job
    assert job_from_nomad(json.loads(json.dumps({"Job": job_to_nomad(job)}))) == job
    assert read_job(job_to_yaml(job), format="yaml") == job


def test_nomad_json_migrate_keys() -> None:
    job = read_job(_job('migrate { max_parallel = 2\n min_healthy_time = "1s" }'))
    wire = job_to_nomad(job)["TaskGroups"][0]["Migrate"]
    assert wire == {
        "MaxParallel": 2,
        "HealthCheck": "checks",
        "MinHealthyTime": 1_000_000_000,
        "HealthyDeadline": 300_000_000_000,
    }
    data = job_to_nomad(job)
    data["TaskGroups"][0]["Migrate"] = {"MaxParallel": 4, "HealthCheck": "task_states"}
    assert _migrate(job_from_nomad(data)) == MigrateStrategy(4, HealthCheck.TASK_STATES)


@pytest.mark.parametrize(
    ("block", "path", "message"),
    [
        ("migrate { max_parallel = 0 }", "migrate.max_parallel", "must be at least 1"),
        ('migrate { health_check = "manual" }', "migrate.health_check", 'must be "checks" or "task_states"'),
        (
            'migrate {\n min_healthy_time = "5m"\n healthy_deadline = "1m"\n}',
            "migrate.min_healthy_time",
            "must be shorter than healthy_deadline",
        ),
    ],
    ids=["max-parallel-zero", "manual", "min-over-deadline"],
)
def test_migrate_validation(block: str, path: str, message: str) -> None:
    found = [(i.path, i.message) for i in validate(read_job(_job(block)))]
    assert any(p.endswith(path) and m == message for p, m in found), found


def test_a_migrate_change_is_an_in_place_edit() -> None:

    d = diff_jobs(read_job(_job("")), read_job(_job("migrate { max_parallel = 2 }")))
    group = d.task_groups[0]
    assert [o.name for o in group.objects] == ["Migrate"]
    assert not group.destructive
    assert [(f.name, f.old, f.new) for f in group.objects[0].fields if f.type != "None"] == [
        ("MaxParallel", "1", "2")
    ]
