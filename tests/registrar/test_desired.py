"""Table-driven tests of the registrar's pure decisions: which registrations exist for an
allocation in a given state, and what they hold."""

from __future__ import annotations

import pytest

from controllers.registrar.desired import check_id, desired_registrations, runtime_env, should_register
from reconciler.model.job import Check, Job, Service, Task, TaskGroup
from reconciler.model.objects import AllocatedPort, Allocation, AllocStatus, Node
from reconciler.model.taskenv import EnvInputs, build_env, interpolate_str, node_values

NODE = Node(id="node-1", name="n1", datacenter="dc1", address="127.0.0.5")


def job(*, group_services: list[Service] | None = None, task_services: list[Service] | None = None) -> Job:
    return Job(
        id="todo",
        task_groups=[
            TaskGroup(
                name="web",
                count=2,
                services=group_services or [],
                tasks=[Task(name="server", driver="raw_exec", services=task_services or [])],
            )
        ],
    )


def alloc(*, desired: str = "run", client_status: str = "", canary: bool = False) -> Allocation:
    return Allocation(
        id="a1b2c3d4-0000-0000-0000-000000000001",
        namespace="default",
        job_id="todo",
        job_version=0,
        task_group="web",
        name="todo.web[1]",
        index=1,
        node_id="node-1",
        desired_status=desired,
        client_status=client_status,
        canary=canary,
        ports=[AllocatedPort(label="http", value=23456), AllocatedPort(label="admin", value=23457)],
    )


def status(client_status: str) -> AllocStatus:
    return AllocStatus(
        alloc_id="a1b2c3d4-0000-0000-0000-000000000001", node_id="node-1", client_status=client_status
    )


@pytest.mark.parametrize(
    ("desired", "sched_status", "observed", "want"),
    [
        ("run", "", "running", True),
        ("run", "", "pending", False),
        ("run", "", "complete", False),
        ("run", "", "failed", False),
        ("stop", "", "running", False),
        ("evict", "", "running", False),
        ("run", "lost", "running", False),
        ("run", "unknown", "running", False),  # its node is disconnected: no traffic to it
        ("run", "", None, False),
    ],
)
def test_should_register(desired: str, sched_status: str, observed: str | None, want: bool) -> None:
    a = alloc(desired=desired, client_status=sched_status)
    assert should_register(a, status(observed) if observed else None) is want


def test_group_and_task_services_with_ports_tags_and_checks() -> None:
    j = job(
        group_services=[
            Service(
                name="todo",
                port="http",
                tags=["urlprefix-/todo"],
                canary_tags=["canary"],
                checks=[Check(name="alive", type="http", path="/")],
            )
        ],
        task_services=[
            Service(port="admin", tags=["admin-${NOMAD_ALLOC_INDEX}"], meta={"ip": "${NOMAD_IP_admin}"})
        ],
    )
    regs = desired_registrations(alloc(), status("running"), j, NODE)
    assert [(r.service_name, r.task, r.port_label, r.port, r.address, r.tags) for r in regs] == [
        ("todo", "", "http", 23456, "127.0.0.5", ["urlprefix-/todo"]),
        ("todo-web-server", "server", "admin", 23457, "127.0.0.5", ["admin-1"]),
    ]
    assert regs[1].meta == {"ip": "127.0.0.5"}
    assert [c.id for c in regs[0].checks] == ["todo-alive"]
    assert regs[0].id == "_nomad-task-a1b2c3d4-0000-0000-0000-000000000001-web-todo-http"
    assert all(r.node_id == "node-1" and r.job_id == "todo" and r.group == "web" for r in regs)


@pytest.mark.parametrize(
    ("canary", "want"), [(False, ["urlprefix-/todo"]), (True, ["urlprefix-/todo", "canary"])]
)
def test_canary_tags(canary: bool, want: list[str]) -> None:
    j = job(
        group_services=[Service(name="todo", port="http", tags=["urlprefix-/todo"], canary_tags=["canary"])]
    )
    regs = desired_registrations(alloc(canary=canary), status("running"), j, NODE)
    assert regs[0].tags == want
    assert regs[0].canary is canary


@pytest.mark.parametrize("observed", ["pending", "complete", "failed"])
def test_nothing_unless_running(observed: str) -> None:
    j = job(group_services=[Service(name="todo", port="http")])
    assert desired_registrations(alloc(), status(observed), j, NODE) == []


def test_invalid_names_and_unknown_ports() -> None:
    j = job(
        group_services=[
            Service(name="bad name!", port="http"),
            Service(name="noport", port="nope"),
            Service(name="${NOMAD_JOB_ID}-svc", port="http"),
        ]
    )
    regs = desired_registrations(alloc(), status("running"), j, NODE)
    assert [(r.service_name, r.port) for r in regs] == [("noport", 0), ("todo-svc", 23456)]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("${NOMAD_PORT_http}", "23456"),
        ("x-${NOMAD_ALLOC_INDEX}-y", "x-1-y"),
        ("${env.NOMAD_JOB_ID}", "todo"),
        ("${NOMAD_UNKNOWN}", "${NOMAD_UNKNOWN}"),
        ("plain", "plain"),
        ("${NOMAD_ADDR_http}", "127.0.0.5:23456"),
    ],
)
def test_interpolate(text: str, want: str) -> None:
    j = job()
    assert (
        interpolate_str(text, runtime_env(alloc(), j, j.task_groups[0], "server", NODE), node_values(NODE))
        == want
    )


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("${NOMAD_META_flavour}-svc", "mint-svc"),
        ("${NOMAD_META_FLAVOUR}-svc", "mint-svc"),
        ("${NOMAD_META_tier}-${NOMAD_META_team}", "front-web"),
        ("${node.unique.name}-${NOMAD_HOST_IP_http}", "n1-127.0.0.5"),
    ],
    ids=["task-meta", "task-meta-upper", "group-and-job-meta", "node-and-host-ip"],
)
def test_service_name_resolves_as_in_the_task_env(name: str, want: str) -> None:
    """A service name resolves in the catalog to what the same reference is in the task's
    environment (one task env module for the node agent and the registrar)."""
    task = Task(
        name="server", driver="raw_exec", meta={"flavour": "mint"}, services=[Service(name=name, port="http")]
    )
    group = TaskGroup(name="web", meta={"tier": "front"}, tasks=[task])
    j = Job(id="todo", meta={"team": "web"}, task_groups=[group])
    task_env = build_env(EnvInputs(alloc(), j, group, task, NODE))
    in_task = interpolate_str(name, task_env, node_values(NODE))
    regs = desired_registrations(alloc(), status("running"), j, NODE)
    assert [r.service_name for r in regs] == [in_task] == [want]


@pytest.mark.parametrize(
    ("service", "index", "name", "want"),
    [
        ("todo", 0, "", "todo-check0"),
        ("todo", 1, "alive", "todo-alive"),
        ("todo", 0, 'service: "todo" check', "todo-service_todo_check"),
    ],
)
def test_check_id(service: str, index: int, name: str, want: str) -> None:
    assert check_id(service, index, name) == want


@pytest.mark.parametrize(
    ("promoted", "want", "canary"),
    [(False, ["urlprefix-/todo", "canary"], True), (True, ["urlprefix-/todo"], False)],
)
def test_a_promoted_canary_is_registered_like_any_instance(
    promoted: bool, want: list[str], canary: bool
) -> None:
    j = job(
        group_services=[Service(name="todo", port="http", tags=["urlprefix-/todo"], canary_tags=["canary"])]
    )
    regs = desired_registrations(alloc(canary=True), status("running"), j, NODE, promoted=promoted)
    assert regs[0].tags == want
    assert regs[0].canary is canary
