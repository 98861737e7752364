"""One small job cannot freeze the scheduler or slip past the rules (review findings H7, M1,
L1; reproductions R7, R10, R11): every API path validates with the text loader's function,
counts are bounded, and `regexp` constraints use RE2."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from controllers.scheduler.feasibility import constraint_ok
from reconciler.model.ids import is_valid_name
from reconciler.model.job import Constraint
from reconciler.model.objects import JobRecord, Node
from reconciler.ops.errors import InvalidJob
from reconciler.ops.jobs import submit_job
from reconciler.spec import SpecError, job_to_nomad, load_job_file
from reconciler.store import Store
from tests.api.server import ApiServer, make_server
from tests.factories import submitted_job


def nomad_body(**changes: Any) -> dict[str, Any]:
    job = job_to_nomad(submitted_job("web"))
    group, task = job["TaskGroups"][0], job["TaskGroups"][0]["Tasks"][0]
    for key, value in changes.items():
        target = {"job": job, "group": group, "task": task}[key.split("_", 1)[0]]
        target[key.split("_", 1)[1]] = value
    return {"Job": job}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"task_Name": "../../../x"}, "task name"),
        ({"group_Count": -3}, "must be a non-negative integer"),
        ({"group_Count": 100_000_000}, "must be at most 100000"),
        ({"job_Priority": 100000}, "must be between 1 and 100"),
        ({"job_Type": "sysbatchx"}, 'must be one of "service"'),
    ],
    ids=["traversal task name", "negative count", "huge count", "priority", "type"],
)
def test_r10_register_validates_like_the_text_loader(
    api: ApiServer, store: Store, changes: dict[str, Any], message: str
) -> None:
    status, resp = api.call("POST", "/v1/jobs", nomad_body(**changes))
    assert status == 400, resp
    assert message in resp["error"], resp
    assert store.get(store.keys.job("default", "web"), JobRecord) is None


def test_plan_of_a_huge_count_is_refused_before_the_planner(store: Store, tmp_path: Path) -> None:
    planned: list[Any] = []
    server = make_server(store, tmp_path, planner=lambda **kw: planned.append(kw))
    try:
        status, resp = server.call("POST", "/v1/job/web/plan", nomad_body(group_Count=100_000_000))
    finally:
        server.stop()
    assert status == 400
    assert "must be at most 100000" in resp["error"]
    assert planned == []


def test_scale_validates_too(api: ApiServer, store: Store) -> None:
    assert api.call("POST", "/v1/jobs", nomad_body())[0] == 200
    group = submitted_job("web").task_groups[0].name
    status, resp = api.call("POST", "/v1/job/web/scale", {"Count": 100_000_000, "Target": {"Group": group}})
    assert status == 400
    assert "must be at most 100000" in resp["error"]
    rec = store.get(store.keys.job("default", "web"), JobRecord)
    assert rec is not None
    assert rec.value.version == 0


def test_submit_job_is_the_single_gate_for_every_write(store: Store) -> None:
    job = submitted_job("web")
    bad = dataclasses.replace(job, task_groups=[dataclasses.replace(job.task_groups[0], count=-1)])
    with pytest.raises(InvalidJob, match="count"):
        submit_job(store, bad)
    assert store.get(store.keys.job("default", "web"), JobRecord) is None


@pytest.mark.timeout(30)
def test_r7_regexp_constraints_match_in_linear_time() -> None:
    """`^(a+)+$` against 40 a's and a "!" took hours with Python's backtracking `re` (and
    would fail on the timeout); RE2 answers at once."""
    node = Node(id="n1", name="n1")
    assert (
        constraint_ok(Constraint(attribute="a" * 40 + "!", operator="regexp", value="^(a+)+$"), node) is False
    )
    assert constraint_ok(Constraint(attribute="aaa", operator="regexp", value="^(a+)+$"), node) is True


def test_invalid_regexp_is_refused_with_field_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "job.nomad"
    path.write_text(
        'job "x" {\n  datacenters = ["dc1"]\n  constraint {\n    attribute = "${attr.kernel.name}"\n'
        '    operator = "regexp"\n    value = "(a)\\\\1"\n  }\n  group "g" {\n    task "t" {\n'
        '      driver = "raw_exec"\n      config {\n        command = "true"\n      }\n    }\n  }\n}\n'
    )
    with pytest.raises(SpecError) as info:
        load_job_file(path)
    assert f"{path}:6:5: job.x.constraint[0].value: invalid regular expression" in str(info.value)


@pytest.mark.parametrize(("name", "ok"), [("web", True), ("web\n", False), ("a.b-c_1", True), ("..", False)])
def test_r11_names_with_a_trailing_newline_are_refused(name: str, ok: bool) -> None:
    assert is_valid_name(name) is ok


@pytest.mark.parametrize("timeout", [b"Infinity", b"NaN", b"1e9", b'"abc"', b"-1", b"true"])
def test_h5_alloc_exec_timeout_is_finite_and_bounded(api: ApiServer, timeout: bytes) -> None:
    status, resp = api.call(
        "POST", "/v1/client/allocation/0000/exec", raw=b'{"Cmd": ["yes"], "Timeout": %s}' % timeout
    )
    assert status == 400, resp
    assert resp["field"] == "Timeout", resp


LOGS_JOB = """job "j" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config { command = "true" }
      logs {
        max_files     = %d
        max_file_size = %d
      }
    }
  }
}
"""


@pytest.mark.parametrize(
    ("files", "size", "message"),
    [
        (10, 0, "minimum file size is 1MB; got 0"),
        (0, 10, "minimum number of files is 1; got 0"),
        (100, 10, "log storage (1000 MB) must be less than requested disk capacity (300 MB)"),
    ],
)
def test_l7_log_rotation_is_bounded_as_nomad_bounds_it(files: int, size: int, message: str) -> None:
    from reconciler.spec import parse_job

    with pytest.raises(SpecError) as err:
        parse_job(LOGS_JOB % (files, size), filename="j.nomad")
    assert message in str(err.value)
    parse_job(LOGS_JOB % (10, 1), filename="j.nomad")


def test_l2_json_nested_too_deeply_is_a_400(api: ApiServer) -> None:
    status, body = api.call("POST", "/v1/jobs", raw=b"[" * 200_000)
    assert (status, body) == (400, {"error": "request body is not valid JSON: nested too deeply"})


CHECK_PORT_JOB = """job "j" {
  datacenters = ["dc1"]
  group "g" {
    network {
      port "http" {}
    }
    service {
      name = "s"
      port = "http"
      check {
        type     = "tcp"
        port     = "%s"
        interval = "10s"
        timeout  = "2s"
      }
    }
    task "t" {
      driver = "raw_exec"
      config { command = "true" }
    }
  }
}
"""


def test_l9_a_check_cannot_probe_a_port_number_of_its_choice() -> None:
    from reconciler.spec import parse_job

    with pytest.raises(SpecError) as err:
        parse_job(CHECK_PORT_JOB % "2379", filename="j.nomad")  # the embedded etcd's port
    assert "a check's port is a port label, not a number" in str(err.value)
    parse_job(CHECK_PORT_JOB % "http", filename="j.nomad")
