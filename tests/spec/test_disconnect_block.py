"""The group's `disconnect` block as a job file writes it: the combinations refused (both
windows, an unknown `reconcile`, a negative `stop_on_client_after`, a system job), Nomad
1.8's `stop_after_client_disconnect` read as written (0 is "stop at once", not "never"),
and the block read the same from HCL, YAML and Nomad JSON. What the scheduler does with it
is tests/scheduler/test_disconnect.py."""

from __future__ import annotations

import pytest

from reconciler.model.job import SECOND, DisconnectStrategy, ReconcileOption
from reconciler.spec import SpecError, job_to_nomad, parse_job
from reconciler.spec.loader import read_job
from reconciler.spec.nomad_json import job_from_nomad
from reconciler.spec.yaml_format import job_to_yaml


@pytest.mark.parametrize(
    ("hcl", "error"),
    [
        ('max_client_disconnect = "1m"\n disconnect {\n lost_after = "2m"\n }', "using both"),
        ('disconnect {\n reconcile = "coin_flip"\n }', "reconcile"),
        ('disconnect {\n lost_after = "1m"\n stop_on_client_after = "1m"\n }', "using both lost_after"),
        ('max_client_disconnect = "1m"\n stop_after_client_disconnect = "1m"', "using both lost_after"),
        ('disconnect {\n stop_on_client_after = "-1s"\n }', "non-negative"),
        (
            'type = "system"\n group "g" {\n disconnect {\n stop_on_client_after = "1m"\n }',
            "service and batch",
        ),
    ],
)
def test_disconnect_spec_errors(hcl: str, error: str) -> None:
    head = "" if hcl.startswith("type") else ' group "g" {\n '
    text = f'job "j" {{\n{head} {hcl}\n task "t" {{\n driver = "raw_exec"\n'
    text += ' config {\n command = "/bin/true"\n }\n }\n }\n}\n'
    with pytest.raises(SpecError) as err:
        parse_job(text)
    assert error in str(err.value)


def test_stop_on_client_after_reads_as_written() -> None:
    body = 'task "t" {\n driver = "raw_exec"\n config {\n command = "/bin/true"\n }\n }'
    text = (
        f'job "j" {{\n group "g" {{\n disconnect {{\n stop_on_client_after = "90s"\n }}\n {body}\n }}\n}}\n'
    )
    g = parse_job(text).task_groups[0]
    assert g.stop_after() == 90 * SECOND
    assert g.lost_after() == 0
    old = f'job "j" {{\n group "g" {{\n stop_after_client_disconnect = "0s"\n {body}\n }}\n}}\n'
    job = parse_job(old)
    assert job.task_groups[0].stop_after() == 0  # written: stop at once (0 is not "never")
    assert job_from_nomad(job_to_nomad(job)) == job
    assert job_to_nomad(job)["TaskGroups"][0]["StopAfterClientDisconnect"] == 0


def test_disconnect_reads_the_same_in_hcl_yaml_and_json() -> None:
    text = """job "j" {
  group "g" {
    disconnect {
      lost_after = "10m"
      replace    = false
      reconcile  = "longest_running"
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
    job = parse_job(text)
    g = job.task_groups[0]
    assert g.disconnect == DisconnectStrategy(600 * SECOND, False, ReconcileOption.LONGEST_RUNNING)
    assert g.lost_after() == 600 * SECOND
    assert not g.replace_on_disconnect()
    wire = job_to_nomad(job)["TaskGroups"][0]["Disconnect"]
    assert wire == {
        "LostAfter": 600 * SECOND,
        "Replace": False,
        "Reconcile": "longest_running",
        "StopOnClientAfter": None,
    }
    assert job_from_nomad(job_to_nomad(job)) == job
    assert parse_job(job_to_yaml(job), format="yaml") == job
    assert read_job(text) == job
