"""The task lifecycle order and restart rules, pure and table-driven."""

from __future__ import annotations

import pytest

from controllers.driver_runner.lifecycle import MAIN, Member, to_end, to_launch
from controllers.driver_runner.restarts import completes_on_success
from reconciler.model.job import Lifecycle, LifecycleHook, Task
from reconciler.spec import SpecError, job_to_nomad, parse_job
from reconciler.spec.nomad_json import job_from_request

PRE, POST, STOP = LifecycleHook.PRESTART, LifecycleHook.POSTSTART, LifecycleHook.POSTSTOP


def m(name: str, hook: str = MAIN, state: str = "", *, sidecar: bool = False) -> Member:
    """A member by state: "" not launched, "launched", "running", "done", "failed"."""
    return Member(
        name,
        hook,
        sidecar=sidecar,
        launched=state != "",
        started=state in ("running", "done", "failed"),
        dead=state in ("done", "failed"),
        failed=state == "failed",
    )


LAUNCH = [
    pytest.param(
        [m("init", PRE), m("side", PRE, sidecar=True), m("app")], False, ["init", "side"], id="prestart-first"
    ),
    pytest.param(
        [m("init", PRE, "running"), m("side", PRE, "running", sidecar=True), m("app")],
        False,
        [],
        id="main-waits-for-init",
    ),
    pytest.param(
        [m("init", PRE, "done"), m("side", PRE, "launched", sidecar=True), m("app")],
        False,
        [],
        id="main-waits-for-sidecar",
    ),
    pytest.param(
        [m("init", PRE, "done"), m("side", PRE, "running", sidecar=True), m("app")],
        False,
        ["app"],
        id="main-starts",
    ),
    pytest.param([m("app", MAIN, "launched"), m("after", POST)], False, [], id="poststart-waits-for-main"),
    pytest.param([m("app", MAIN, "running"), m("after", POST)], False, ["after"], id="poststart-starts"),
    pytest.param([m("app", MAIN, "running"), m("clean", STOP)], False, [], id="poststop-waits"),
    pytest.param(
        [m("app", MAIN, "done"), m("side", PRE, "done", sidecar=True), m("clean", STOP)],
        False,
        ["clean"],
        id="poststop-after-all",
    ),
    pytest.param(
        [m("init", PRE, "failed"), m("app"), m("clean", STOP)], False, ["app"], id="failure-ends-the-rest"
    ),
    pytest.param(
        [m("init", PRE, "running"), m("app"), m("clean", STOP)], True, ["app"], id="stop-ends-the-rest"
    ),
    pytest.param(
        [m("init", PRE, "failed"), m("app", MAIN, "done"), m("clean", STOP)],
        False,
        ["clean"],
        id="poststop-after-failure",
    ),
]


@pytest.mark.parametrize(("group", "stopping", "want"), LAUNCH)
def test_to_launch(group: list[Member], stopping: bool, want: list[str]) -> None:
    assert to_launch(group, stopping=stopping) == want


END = [
    pytest.param([m("side", PRE, "running", sidecar=True), m("app", MAIN, "running")], [], id="main-running"),
    pytest.param(
        [m("side", PRE, "running", sidecar=True), m("after", POST, "running"), m("app", MAIN, "done")],
        ["side", "after"],
        id="main-dead-ends-sidecars",
    ),
    pytest.param(
        [m("side", PRE, "done", sidecar=True), m("app", MAIN, "done"), m("clean", STOP, "running")],
        [],
        id="poststop-not-ended",
    ),
]


@pytest.mark.parametrize(("group", "want"), END)
def test_to_end(group: list[Member], want: list[str]) -> None:
    assert to_end(group) == want


@pytest.mark.parametrize(
    ("job_type", "lc", "completes"),
    [
        pytest.param("service", None, False, id="service-main-restarts"),
        pytest.param("batch", None, True, id="batch-main-completes"),
        pytest.param("service", Lifecycle(PRE), True, id="init-completes"),
        pytest.param("batch", Lifecycle(PRE, sidecar=True), False, id="sidecar-restarts-even-in-batch"),
        pytest.param("service", Lifecycle(POST, sidecar=True), False, id="poststart-sidecar-restarts"),
        pytest.param("service", Lifecycle(STOP, sidecar=True), True, id="poststop-completes"),
    ],
)
def test_completes_on_success(job_type: str, lc: Lifecycle | None, completes: bool) -> None:
    assert completes_on_success(job_type, lc) == completes


def test_health_looks_only_at_tasks_that_keep_running() -> None:
    assert Task("app").keeps_running()
    assert Task("side", lifecycle=Lifecycle(PRE, sidecar=True)).keeps_running()
    assert not Task("init", lifecycle=Lifecycle(PRE)).keeps_running()
    assert not Task("clean", lifecycle=Lifecycle(STOP)).keeps_running()


JOB = """job "j" {
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
      lifecycle {
%s
      }
    }
%s
  }
}
"""
MAIN_TASK = 'task "m" {\n  driver = "raw_exec"\n  config {\n    command = "/bin/true"\n  }\n}'


@pytest.mark.parametrize(
    ("body", "extra", "want"),
    [
        pytest.param('hook = "prestart"', "", "needs at least one main task", id="no-main"),
        pytest.param(
            'hook = "later"',
            MAIN_TASK,
            'lifecycle.hook: must be one of "prestart", "poststart", "poststop"',
            id="bad-hook",
        ),
        pytest.param("sidecar = true", MAIN_TASK, 'lifecycle: missing required field "hook"', id="no-hook"),
    ],
)
def test_lifecycle_is_refused_with_the_field(body: str, extra: str, want: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_job(JOB % (body, extra), filename="j.nomad")
    assert want in str(err.value)
    assert "j.nomad:" in str(err.value)


def test_nomad_json_carries_lifecycle_and_refuses_an_unknown_hook() -> None:
    job = parse_job(JOB % ('hook = "prestart"\nsidecar = true', MAIN_TASK), filename="j.nomad")
    data = {"Job": job_to_nomad(job)}
    assert data["Job"]["TaskGroups"][0]["Tasks"][0]["Lifecycle"] == {"Hook": "prestart", "Sidecar": True}
    assert job_from_request(data) == job
    data["Job"]["TaskGroups"][0]["Tasks"][0]["Lifecycle"]["Hook"] = "later"
    with pytest.raises(SpecError) as err:
        job_from_request(data)
    assert "task.t.lifecycle.hook: must be one of" in str(err.value)
