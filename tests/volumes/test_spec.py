"""The storage stanzas in the job specification: a group's `volume` and a task's
`volume_mount`, read from HCL, YAML and Nomad JSON alike and checked by Nomad's rules."""

from __future__ import annotations

import pytest

from reconciler.model.volumes import VolumeMount, VolumeRequest
from reconciler.spec import SpecError, job_to_nomad
from reconciler.spec.hcl_format import format_hcl
from reconciler.spec.loader import parse_job
from reconciler.spec.nomad_json import job_from_nomad, job_from_request
from reconciler.spec.yaml_format import job_to_yaml

JOB = """job "v" {
  datacenters = ["dc1"]
  group "g" {
    volume "data" {
      type      = "host"
      source    = "shared"
      read_only = true
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
      volume_mount {
        volume      = "data"
        destination = "%s"
      }
    }
  }
}
"""


def _job(destination: str = "local/data", **replace: str) -> str:
    text = JOB % destination
    for old, new in replace.items():
        text = text.replace(old, new)
    return text


def test_volume_and_mount_are_read_and_written_in_every_format() -> None:
    job = parse_job(_job())
    group = job.task_groups[0]
    assert group.volumes == {"data": VolumeRequest(name="data", type="host", source="shared", read_only=True)}
    assert group.tasks[0].volume_mounts == [VolumeMount(volume="data", destination="local/data")]
    assert parse_job(format_hcl(job)) == job
    assert parse_job(job_to_yaml(job), format="yaml") == job
    nomad = job_to_nomad(job)
    assert nomad["TaskGroups"][0]["Volumes"]["data"] == {
        "Name": "data",
        "Type": "host",
        "Source": "shared",
        "ReadOnly": True,
    }
    assert nomad["TaskGroups"][0]["Tasks"][0]["VolumeMounts"][0]["Destination"] == "local/data"
    assert job_from_nomad(nomad) == job


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        (_job(**{'type      = "host"': 'type = "csi"'}), "job.v.group.g.volume.data.type", '"csi" volumes'),
        (_job(**{'source    = "shared"': ""}), "job.v.group.g.volume.data.source", "must name a host volume"),
        (
            _job(**{'volume      = "data"': 'volume = "nope"'}),
            "job.v.group.g.task.t.volume_mount[0].volume",
            '"nope" is not a volume of the group',
        ),
        (_job("../../escape"), "job.v.group.g.task.t.volume_mount[0].destination", "inside the task"),
        (_job("/"), "job.v.group.g.task.t.volume_mount[0].destination", "inside the task"),
    ],
    ids=["csi-refused", "no-source", "undeclared-volume", "escaping-destination", "task-dir-itself"],
)
def test_rules_name_the_field(text: str, path: str, message: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_job(text)
    assert any(i.path == path and message in i.message for i in err.value.errors), err.value.errors


def test_an_absolute_destination_is_inside_the_task_dir() -> None:
    assert parse_job(_job("/data")).task_groups[0].tasks[0].volume_mounts[0].destination == "/data"


def test_the_api_refuses_a_csi_volume_by_its_json_path() -> None:
    nomad = job_to_nomad(parse_job(_job()))
    nomad["TaskGroups"][0]["Volumes"]["data"]["Type"] = "csi"
    with pytest.raises(SpecError) as err:
        job_from_request({"Job": nomad})
    assert [i.path for i in err.value.errors] == ["job.v.group.g.volume.data.type"]
