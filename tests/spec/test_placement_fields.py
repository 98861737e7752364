"""`node_pool` and the `distinct_property` constraint read the same from HCL, YAML and Nomad
JSON, and survive every writer (HCL, YAML, Nomad JSON) unchanged."""

from __future__ import annotations

import json
import textwrap

import pytest

from reconciler.model.job import Constraint, Job
from reconciler.spec import SpecError, format_hcl, job_from_nomad, job_to_nomad, job_to_yaml
from reconciler.spec.loader import parse_job

HCL = textwrap.dedent(
    """\
    job "web" {
      datacenters = ["dc1"]
      node_pool   = "prod"
      constraint {
        operator  = "distinct_property"
        attribute = "${meta.rack}"
        value     = "2"
      }
      group "g" {
        constraint {
          operator  = "distinct_property"
          attribute = "${node.pool}"
        }
        task "t" {
          driver = "raw_exec"
          config {
            command = "/bin/true"
          }
        }
      }
    }
    """
)

YAML = textwrap.dedent(
    """\
    job:
      web:
        datacenters: [dc1]
        node_pool: prod
        constraint:
          operator: distinct_property
          attribute: ${meta.rack}
          value: "2"
        group:
          g:
            constraint:
              operator: distinct_property
              attribute: ${node.pool}
            task:
              t:
                driver: raw_exec
                config: {command: /bin/true}
    """
)

JSON = {
    "ID": "web",
    "Datacenters": ["dc1"],
    "NodePool": "prod",
    "Constraints": [{"LTarget": "${meta.rack}", "Operand": "distinct_property", "RTarget": "2"}],
    "TaskGroups": [
        {
            "Name": "g",
            "Constraints": [{"LTarget": "${node.pool}", "Operand": "distinct_property", "RTarget": ""}],
            "Tasks": [{"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"}}],
        }
    ],
}


def _check(job: Job) -> None:
    assert job.node_pool == "prod"
    assert job.constraints == [Constraint("${meta.rack}", "distinct_property", "2")]
    assert job.task_groups[0].constraints == [Constraint("${node.pool}", "distinct_property", "")]


def test_the_three_formats_read_the_same_job() -> None:
    hcl = parse_job(HCL)
    yaml = parse_job(YAML, format="yaml")
    api = job_from_nomad(JSON)
    for job in (hcl, yaml, api):
        _check(job)
    assert hcl == yaml == api


def test_the_writers_keep_the_fields() -> None:
    job = parse_job(HCL)
    assert parse_job(format_hcl(job)) == job
    assert parse_job(job_to_yaml(job), format="yaml") == job
    out = job_to_nomad(job)
    assert out["NodePool"] == "prod"
    assert job_from_nomad(json.loads(json.dumps(out))) == job


@pytest.mark.parametrize(
    "text",
    [HCL.replace('  node_pool   = "prod"\n', ""), HCL.replace('"prod"', '""')],
    ids=["unset", "empty"],
)
def test_the_pool_defaults_to_default(text: str) -> None:
    assert parse_job(text).node_pool == "default"
    assert job_from_nomad(dict(JSON, NodePool="")).node_pool == "default"


def test_a_bad_count_is_refused_at_its_line() -> None:
    with pytest.raises(SpecError) as info:
        parse_job(HCL.replace('value     = "2"', 'value     = "two"'), filename="web.nomad")
    assert str(info.value.errors[0]) == (
        'web.nomad:7:5: job.web.constraint[0].value: must be an allowed count of 1 or more, got "two"'
    )


def test_a_pool_change_is_in_the_job_diff() -> None:
    from reconciler.spec.diff import diff_jobs
    from reconciler.spec.render_diff import render_diff

    old = parse_job(HCL)
    new = parse_job(HCL.replace('"prod"', '"gpu"'))
    assert '+/- NodePool: "prod" => "gpu"' in render_diff(diff_jobs(old, new))
