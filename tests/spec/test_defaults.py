"""Nomad's defaults as the loaders fill them in."""

from __future__ import annotations

import pytest

from reconciler.model.job import HOUR, MINUTE, SECOND
from reconciler.spec import parse_job

TEMPLATE = """
job "j" {{
  type = "{type}"
  {job_extra}
  group "g" {{
    {group_extra}
    network {{
      port "dyn" {{}}
      port "fixed" {{
        static = 7000
      }}
    }}
    service {{
      port = "dyn"
      check {{
        type = "tcp"
      }}
    }}
    task "t" {{
      driver = "exec"
      config {{
        command = "/bin/true"
      }}
      service {{
        port = "fixed"
      }}
    }}
  }}
}}
"""


def test_service_job_defaults() -> None:
    job = parse_job(TEMPLATE.format(type="service", job_extra="", group_extra=""))
    group = job.task_groups[0]
    task = group.tasks[0]
    assert job.priority == 50
    assert job.datacenters == ["*"]
    assert job.namespace == "default"
    assert group.count == 1
    assert group.update is not None
    assert group.update.max_parallel == 1
    assert group.update.min_healthy_time == 10 * SECOND
    assert group.update.healthy_deadline == 5 * MINUTE
    assert group.update.progress_deadline == 10 * MINUTE
    assert group.restart is not None
    assert (group.restart.attempts, group.restart.interval) == (2, 30 * MINUTE)
    assert group.reschedule is not None
    assert group.reschedule.unlimited
    assert group.reschedule.delay_function == "exponential"
    assert task.resources.cpu == 100
    assert task.resources.memory == 300
    assert task.kill_timeout == 5 * SECOND
    assert (task.logs.max_files, task.logs.max_file_size) == (10, 10)
    assert group.services[0].name == "j-g"
    assert task.services[0].name == "j-g-t"
    assert group.services[0].checks[0].name == 'service: "j-g" check'
    assert [p.label for p in group.networks[0].ports] == ["fixed", "dyn"]


def test_batch_job_defaults() -> None:
    group = parse_job(TEMPLATE.format(type="batch", job_extra="", group_extra="")).task_groups[0]
    assert group.update is None
    assert group.restart is not None
    assert (group.restart.attempts, group.restart.interval) == (3, 24 * HOUR)
    assert group.reschedule is not None
    assert (group.reschedule.attempts, group.reschedule.unlimited) == (1, False)


def test_system_job_has_no_reschedule_policy() -> None:
    group = parse_job(TEMPLATE.format(type="system", job_extra="", group_extra="")).task_groups[0]
    assert group.reschedule is None
    assert group.update is not None


@pytest.mark.parametrize(
    ("job_extra", "group_extra", "expected"),
    [
        pytest.param("update {\n max_parallel = 3\n }", "", (3, 0), id="job update copied to the group"),
        pytest.param(
            "update {\n max_parallel = 3\n }",
            "update {\n canary = 1\n }",
            (3, 1),
            id="group update merged over the job's",
        ),
        pytest.param("", "update {\n canary = 2\n }", (1, 2), id="group update over the default"),
    ],
)
def test_update_stanzas_merge(job_extra: str, group_extra: str, expected: tuple[int, int]) -> None:
    job = parse_job(TEMPLATE.format(type="service", job_extra=job_extra, group_extra=group_extra))
    update = job.task_groups[0].update
    assert update is not None
    assert (update.max_parallel, update.canary) == expected
