"""Pure decisions, table-driven: restart policy, client status, interpolation, path guards,
the node agent's action for an allocation."""

from __future__ import annotations

from pathlib import Path

import pytest

from controllers.driver_runner import restarts, status
from controllers.driver_runner.agent import RunnerAction, runner_action
from controllers.driver_runner.procfs import parse_signal
from controllers.driver_runner.restarts import Action, Tracker, decide
from reconciler.model import taskenv
from reconciler.model.alloc_dir import AllocDir, PathEscapeError, inside
from reconciler.model.job import SECOND, Job, RestartPolicy, Task, TaskGroup
from reconciler.model.objects import AllocatedPort, Allocation, Node, TaskState

FAIL2 = RestartPolicy(attempts=2, interval=60 * SECOND, delay=15 * SECOND, mode="fail")
DELAY2 = RestartPolicy(attempts=2, interval=60 * SECOND, delay=15 * SECOND, mode="delay")


@pytest.mark.parametrize(
    ("policy", "tracker", "now", "job_type", "ok", "action", "delay", "count"),
    [
        (FAIL2, Tracker(), 100.0, "batch", True, Action.COMPLETE, 0, 0),
        (FAIL2, Tracker(), 100.0, "service", True, Action.RESTART, 15, 1),
        (FAIL2, Tracker(), 100.0, "batch", False, Action.RESTART, 15, 1),
        (FAIL2, Tracker(100.0, 1), 110.0, "service", False, Action.RESTART, 15, 2),
        (FAIL2, Tracker(100.0, 2), 110.0, "service", False, Action.FAIL, 0, 3),
        (FAIL2, Tracker(100.0, 2), 200.0, "service", False, Action.RESTART, 15, 1),
        (DELAY2, Tracker(100.0, 2), 110.0, "service", False, Action.RESTART, 50, 0),
    ],
    ids=[
        "batch exit 0 completes",
        "service exit 0 restarts",
        "batch failure restarts",
        "second attempt restarts",
        "attempts exhausted in interval fails",
        "a new interval resets the count",
        "mode delay waits for the interval's end",
    ],
)
def test_restart_decisions(
    policy: RestartPolicy,
    tracker: Tracker,
    now: float,
    job_type: str,
    ok: bool,
    action: Action,
    delay: float,
    count: int,
) -> None:
    d = decide(policy, tracker, now=now, job_type=job_type, exit_ok=ok)
    assert (d.action, d.delay, d.tracker.count) == (action, delay, count)


def test_restart_messages_read_like_nomad() -> None:
    assert (
        decide(FAIL2, Tracker(), now=1, job_type="service", exit_ok=False).reason == "Task restarting in 15s"
    )
    fail = decide(FAIL2, Tracker(1.0, 2), now=2, job_type="service", exit_ok=False)
    assert fail.reason == 'Exceeded allowed attempts 2 in interval 1m0s and mode is "fail"'
    assert restarts.fmt_duration(0.25) == "250ms"
    assert restarts.fmt_duration(1800) == "30m0s"


def _ts(state: str, failed: bool = False) -> TaskState:
    return TaskState(state=state, failed=failed)


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ({}, "pending"),
        ({"a": _ts("pending")}, "pending"),
        ({"a": _ts("running"), "b": _ts("pending")}, "running"),
        ({"a": _ts("dead"), "b": _ts("dead")}, "complete"),
        ({"a": _ts("dead", True), "b": _ts("dead")}, "failed"),
        ({"a": _ts("dead", True), "b": _ts("running")}, "failed"),
    ],
    ids=[
        "no tasks is pending",
        "not started is pending",
        "any running is running",
        "all dead is complete",
        "a failed task fails the alloc",
        "failure wins while siblings are killed",
    ],
)
def test_client_status(states: dict[str, TaskState], expected: str) -> None:
    assert status.client_status(states) == expected


def _inputs(tmp_path: Path) -> taskenv.EnvInputs:
    task = Task(
        name="web", env={"URL": "http://${NOMAD_ADDR_http}/", "DC": "${node.datacenter}"}, meta={"k": "v"}
    )
    group = TaskGroup(name="g", tasks=[task])
    job = Job(id="j", task_groups=[group])
    alloc = Allocation(
        id="a" * 8 + "-0000-0000-0000-000000000000",
        namespace="default",
        job_id="j",
        job_version=0,
        task_group="g",
        name="j.g[2]",
        index=2,
        node_id="n1",
        ports=[AllocatedPort("http", 25000), AllocatedPort("admin", 25001, to=9000)],
    )
    node = Node(
        id="n1",
        name="node-one",
        datacenter="dc7",
        address="127.0.0.5",
        attributes={"kernel.name": "linux"},
        meta={"rack": "r9"},
    )
    return taskenv.EnvInputs(alloc, job, group, task, node, AllocDir(tmp_path, alloc.id))


def test_env_and_interpolation(tmp_path: Path) -> None:
    i = _inputs(tmp_path)
    env = taskenv.build_env(i, base={"PATH": "/bin"})
    assert env["PATH"] == "/bin"
    assert env["NOMAD_PORT_http"] == "25000"
    assert env["NOMAD_ADDR_http"] == "127.0.0.5:25000"
    assert env["NOMAD_PORT_admin"] == "9000"
    assert env["NOMAD_HOST_PORT_admin"] == "25001"
    assert env["URL"] == "http://127.0.0.5:25000/"
    assert env["DC"] == "dc7"
    assert env["NOMAD_META_k"] == "v"
    assert env["NOMAD_ALLOC_INDEX"] == "2"
    extra = taskenv.node_values(i.node)
    cfg = {
        "args": [
            "${NOMAD_PORT_http}",
            "${attr.kernel.name}",
            "${meta.rack}",
            "${node.unique.name}",
            "${unknown.x}",
        ],
        "nested": {"x": "${NOMAD_TASK_NAME}-${env.NOMAD_JOB_ID}"},
        "n": 3,
    }
    assert taskenv.interpolate(cfg, env, extra) == {
        "args": ["25000", "linux", "r9", "node-one", "${unknown.x}"],
        "nested": {"x": "web-j"},
        "n": 3,
    }


@pytest.mark.parametrize(
    ("rel", "ok"),
    [("a/b", True), ("./a", True), ("a/../b", True), ("../x", False), ("/etc", False), ("a/../../x", False)],
    ids=["nested", "dot", "up-and-back", "parent refused", "absolute refused", "sneaky parent refused"],
)
def test_inside(tmp_path: Path, rel: str, ok: bool) -> None:
    if ok:
        assert tmp_path.resolve() in inside(tmp_path, rel).parents
    else:
        with pytest.raises(PathEscapeError):
            inside(tmp_path, rel)


def test_inside_refuses_symlink_escape(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to("/etc")
    with pytest.raises(PathEscapeError):
        inside(tmp_path, "link/passwd")


def test_alloc_dir_validates_ids(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid allocation id"):
        AllocDir(tmp_path, "../x")
    with pytest.raises(ValueError, match="invalid task name"):
        AllocDir(tmp_path, "ok").task_dir("..")


@pytest.mark.parametrize(("name", "num"), [("SIGINT", 2), ("term", 15), ("SIGKILL", 9), ("1", 1), ("", 2)])
def test_parse_signal(name: str, num: int) -> None:
    assert parse_signal(name) == num


def test_parse_signal_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="unknown signal"):
        parse_signal("SIGNOPE")


def on(node_id: str, desired_status: str = "run") -> Allocation:
    return Allocation(
        id="a1",
        namespace="default",
        job_id="web",
        job_version=0,
        task_group="web",
        name="web.web[0]",
        index=0,
        node_id=node_id,
        desired_status=desired_status,
    )


@pytest.mark.parametrize(
    ("alloc", "has_runner", "started_here", "action"),
    [
        (None, True, True, RunnerAction.DESTROY),
        (None, False, True, RunnerAction.IGNORE),
        (on("other"), True, True, RunnerAction.DESTROY),
        (on("other"), False, False, RunnerAction.IGNORE),
        (on("n1"), True, True, RunnerAction.UPDATE),
        (on("n1", "stop"), True, True, RunnerAction.UPDATE),
        (on("n1"), False, False, RunnerAction.CREATE),
        (on("n1"), False, True, RunnerAction.CREATE),
        (on("n1", "stop"), False, False, RunnerAction.IGNORE),
        (on("n1", "stop"), False, True, RunnerAction.CREATE),
    ],
    ids=[
        "deleted with a runner: destroy",
        "deleted, no runner: ignore",
        "moved to another node: destroy",
        "another node's, never here: ignore",
        "a change of a running one: update",
        "a stop of a running one: update",
        "new here: create",
        "known from a previous agent: create (re-attach)",
        "stopped before it ever started here: ignore",
        "stopped while no agent ran: create, to stop it",
    ],
)
def test_runner_actions(
    alloc: Allocation | None, has_runner: bool, started_here: bool, action: RunnerAction
) -> None:
    assert runner_action(alloc, node_id="n1", has_runner=has_runner, started_here=started_here) == action
