"""Nomad API JSON both ways: the shape existing clients send, and errors with JSON paths."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.model.job import SECOND, Affinity, CheckRestart, Spread, SpreadTarget
from reconciler.spec import SpecError, job_from_nomad, job_to_nomad, load_job_file
from tests.spec.paths import EXAMPLES

MINIMAL: dict[str, Any] = {
    "ID": "todo",
    "Datacenters": ["dc1"],
    "TaskGroups": [
        {
            "Name": "web",
            "Count": 2,
            "Networks": [
                {
                    "ReservedPorts": [{"Label": "admin", "Value": 9000}],
                    "DynamicPorts": [{"Label": "http", "To": 8080}],
                }
            ],
            "Services": [
                {
                    "Name": "todo",
                    "PortLabel": "http",
                    "Tags": ["urlprefix-/todo"],
                    "Checks": [
                        {"Type": "http", "Path": "/", "Interval": 2_000_000_000, "Timeout": 2_000_000_000}
                    ],
                }
            ],
            "Tasks": [
                {
                    "Name": "todo",
                    "Driver": "java",
                    "Config": {"jar_path": "/app.jar", "jvm_options": ["-Xmx256m"]},
                    "Resources": {"CPU": 200, "MemoryMB": 256},
                }
            ],
            "Update": {"MaxParallel": 5, "Canary": 1},
        }
    ],
    "Constraints": [{"LTarget": "${attr.kernel.name}", "RTarget": "linux", "Operand": "="}],
}


def test_a_minimal_api_job_gets_nomads_defaults() -> None:
    job = job_from_nomad({"Job": MINIMAL})
    group = job.task_groups[0]
    assert job.type == "service"
    assert job.priority == 50
    assert job.name == "todo"
    assert [(p.label, p.static, p.to) for p in group.networks[0].ports] == [
        ("admin", 9000, 0),
        ("http", 0, 8080),
    ]
    assert group.update is not None
    assert group.update.max_parallel == 5
    assert group.update.canary == 1
    assert group.update.healthy_deadline == 300_000_000_000
    assert group.tasks[0].resources.cpu == 200
    assert group.tasks[0].resources.memory == 256
    assert group.services[0].checks[0].name == 'service: "todo" check'
    assert job.constraints[0].attribute == "${attr.kernel.name}"


def test_bare_and_wrapped_jobs_are_the_same() -> None:
    assert job_from_nomad(MINIMAL) == job_from_nomad({"Job": MINIMAL})


def test_written_json_has_nomads_keys() -> None:
    data = job_to_nomad(load_job_file(EXAMPLES / "todo-java-scaled-service.nomad"))
    group = data["TaskGroups"][0]
    assert set(data) >= {"ID", "Name", "Type", "Datacenters", "TaskGroups", "Update", "Meta", "Constraints"}
    assert group["Networks"][0]["DynamicPorts"] == [{"Label": "http", "Value": 0, "To": 0, "HostNetwork": ""}]
    assert group["Services"][0]["PortLabel"] == "http"
    assert group["Services"][0]["Checks"][0]["Interval"] == 2_000_000_000
    assert set(group["Update"]) >= {
        "MaxParallel",
        "Canary",
        "MinHealthyTime",
        "HealthyDeadline",
        "ProgressDeadline",
        "AutoRevert",
        "AutoPromote",
        "HealthCheck",
    }
    assert set(group) >= {"RestartPolicy", "ReschedulePolicy", "EphemeralDisk"}
    assert set(group["Tasks"][0]["Resources"]) >= {"CPU", "MemoryMB"}


def test_read_only_keys_from_nomad_are_ignored() -> None:
    data = dict(MINIMAL, Status="running", Version=3, CreateIndex=10, Stop=False, Affinities=None)
    assert job_from_nomad(data) == job_from_nomad(MINIMAL)


BAD = [
    pytest.param(
        {"ID": "todo", "TaskGroups": [{"Name": "web", "Count": "five"}]},
        'Job.TaskGroups[0].Count: must be an integer, got "five"',
        id="count as text",
    ),
    pytest.param(
        {"ID": "todo", "TaskGroups": "web"},
        'Job.TaskGroups: must be a list, got "web"',
        id="groups not a list",
    ),
    pytest.param({"TaskGroups": []}, "Job.ID: missing required field", id="no ID"),
    pytest.param(
        {"ID": "todo", "Priorty": 70},
        'Job.Priorty: unknown field "Priorty", did you mean "Priority"?',
        id="misspelt key",
    ),
    pytest.param(
        {"ID": "todo", "TaskGroups": [{"Name": "web", "Tasks": [{"Name": "t", "Resources": {"CPU": True}}]}]},
        "Job.TaskGroups[0].Tasks[0].Resources.CPU: must be an integer, got true",
        id="bool for an integer",
    ),
    pytest.param([1, 2], "Job: must be a JSON object, got a list", id="not an object"),
]


@pytest.mark.parametrize(("data", "message"), BAD)
def test_bad_json_names_the_field(data: Any, message: str) -> None:
    with pytest.raises(SpecError) as info:
        job_from_nomad(data)
    assert f"{info.value.errors[0].path}: {info.value.errors[0].message}" == message


def test_a_register_request_body_is_accepted() -> None:
    body = {"Job": MINIMAL, "EnforceIndex": False, "JobModifyIndex": 0, "PolicyOverride": False}
    assert job_from_nomad(body) == job_from_nomad(MINIMAL)


def test_shutdown_delay_is_read_at_group_and_task_level_in_hcl_and_json() -> None:
    from reconciler.spec import parse_job

    hcl = """
job "todo" {
  group "web" {
    shutdown_delay = "3s"
    task "todo" {
      driver         = "raw_exec"
      shutdown_delay = "1500ms"
      config { command = "/bin/true" }
    }
  }
}
"""
    job = parse_job(hcl, filename="todo.nomad")
    group = job.task_groups[0]
    assert (group.shutdown_delay, group.tasks[0].shutdown_delay) == (3_000_000_000, 1_500_000_000)
    data = job_to_nomad(job)
    assert data["TaskGroups"][0]["ShutdownDelay"] == 3_000_000_000
    assert data["TaskGroups"][0]["Tasks"][0]["ShutdownDelay"] == 1_500_000_000
    assert job_from_nomad(data) == job


def test_a_negative_shutdown_delay_is_refused_by_validation() -> None:
    from reconciler.spec import validate

    bad = dict(MINIMAL, TaskGroups=[dict(MINIMAL["TaskGroups"][0], ShutdownDelay=-1)])
    issues = validate(job_from_nomad(bad))
    assert any(i.path.endswith("group.web.shutdown_delay") for i in issues), issues


def test_what_nomads_api_fills_in_by_itself_is_accepted() -> None:
    """A job as `nomad job inspect` prints it: server-set keys with any value, and the keys
    this project does not support at Nomad's own "not used" values."""
    group = dict(
        MINIMAL["TaskGroups"][0],
        Consul={"Cluster": "default", "Namespace": "", "Partition": ""},
        Volumes=None,
        ShutdownDelay=None,
        PreventRescheduleOnLost=False,
        Tasks=[
            dict(
                MINIMAL["TaskGroups"][0]["Tasks"][0],
                Lifecycle=None,
                User="",
                Identity={"Name": "default", "Audience": ["nomadproject.io"], "TTL": 0, "Env": False},
                Resources={"CPU": 200, "MemoryMB": 256, "DiskMB": 0, "IOPS": 0, "Networks": None},
            )
        ],
    )
    inspected = dict(
        MINIMAL,
        TaskGroups=[group],
        NodePool="default",
        Status="running",
        Version=3,
        Stable=True,
        SubmitTime=1_700_000_000_000_000_000,
        ParameterizedJob=None,
        Periodic=None,
        Dispatched=False,
    )
    assert job_from_nomad(inspected) == job_from_nomad(MINIMAL)


REFUSED = [
    pytest.param(
        ("TaskGroups", 0, "Tasks", 0, "Vault"),
        {"Policies": ["read"]},
        "Job.TaskGroups[0].Tasks[0].Vault: not supported yet",
        id="task vault",
    ),
    pytest.param(
        ("TaskGroups", 0, "Services", 0, "OnUpdate"),
        "ignore",
        "Job.TaskGroups[0].Services[0].OnUpdate: not supported yet",
        id="service on_update",
    ),
    pytest.param(("AllAtOnce", None), True, "Job.AllAtOnce: not supported yet", id="all_at_once"),
    pytest.param(
        ("TaskGroups", 0, "Services", 0, "Checks", 0, "TLSSkipVerify"),
        True,
        "Job.TaskGroups[0].Services[0].Checks[0].TLSSkipVerify: not supported yet",
        id="tls_skip_verify check",
    ),
]


@pytest.mark.parametrize(("where", "value", "message"), REFUSED)
def test_a_field_not_supported_is_refused_with_its_json_path(
    where: tuple[Any, ...], value: Any, message: str
) -> None:
    import copy

    data = copy.deepcopy(MINIMAL)
    steps = [s for s in where if s is not None]
    target: Any = data
    for step in steps[:-1]:
        target = target[step]
    target[steps[-1]] = value
    with pytest.raises(SpecError) as info:
        job_from_nomad(data)
    assert [f"{e.path}: {e.message}" for e in info.value.errors] == [message]


def test_health_fields_of_a_check_map_from_nomad_json() -> None:
    import copy

    data = copy.deepcopy(MINIMAL)
    service = data["TaskGroups"][0]["Services"][0]
    service["CheckRestart"] = {"Limit": 3, "Grace": 5_000_000_000, "IgnoreWarnings": False}
    service["Checks"][0].update(
        {
            "Type": "grpc",
            "GRPCService": "todo",
            "GRPCUseTLS": True,
            "OnUpdate": "ignore_warnings",
            "FailuresBeforeWarning": 2,
            "CheckRestart": {"Limit": 2, "Grace": 0, "IgnoreWarnings": True},
        }
    )
    job = job_from_nomad(data)
    svc = job.task_groups[0].services[0]
    check = svc.checks[0]
    assert svc.check_restart == CheckRestart(limit=3, grace=5 * SECOND)
    assert (check.type, check.grpc_service, check.grpc_use_tls) == ("grpc", "todo", True)
    assert (check.on_update, check.failures_before_warning) == ("ignore_warnings", 2)
    assert check.check_restart == CheckRestart(limit=2, grace=0, ignore_warnings=True)


def test_affinities_and_spreads_map_from_nomad_json() -> None:
    import copy

    data = copy.deepcopy(MINIMAL)
    data["Affinities"] = [{"LTarget": "${meta.rack}", "Operand": "regexp", "RTarget": "r[12]", "Weight": -40}]
    data["TaskGroups"][0]["Spreads"] = [
        {"Attribute": "${node.datacenter}", "Weight": 80, "SpreadTarget": [{"Value": "dc1", "Percent": 70}]}
    ]
    job = job_from_nomad(data)
    assert job.affinities == [Affinity("${meta.rack}", "regexp", "r[12]", -40)]
    assert job.task_groups[0].spreads == [Spread("${node.datacenter}", 80, [SpreadTarget("dc1", 70)])]
    assert job_from_nomad(job_to_nomad(job)) == job
