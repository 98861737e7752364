"""Semantic validation of the model, whatever format it came from."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from reconciler.model.job import (
    Affinity,
    Artifact,
    Constraint,
    Job,
    Port,
    Service,
    Spread,
    SpreadTarget,
    Task,
)
from reconciler.spec import load_job_file, validate
from tests.spec.paths import EXAMPLES


def base() -> Job:
    return load_job_file(EXAMPLES / "todo-java-scaled-service.nomad")


def _dup_group(j: Job) -> None:
    j.task_groups.append(copy.deepcopy(j.task_groups[0]))


RULES: list[tuple[str, Callable[[Job], None], str, str]] = [
    (
        "artifact header name not a token",
        lambda j: (
            j.task_groups[0]
            .tasks[0]
            .artifacts.append(Artifact(source="https://example.com/a", headers={"X-A\n": "v"}))
        ),
        "job.todo.group.web.task.todo.artifact[0].headers",
        "'X-A\\n' is not an HTTP header name",
    ),
    (
        "affinity weight out of range",
        lambda j: j.affinities.append(Affinity("${node.datacenter}", "=", "dc1", 101)),
        "job.todo.affinity[0].weight",
        "must be from -100 to 100 and not 0",
    ),
    (
        "affinity without an attribute",
        lambda j: j.task_groups[0].tasks[0].affinities.append(Affinity("", "=", "x")),
        "job.todo.group.web.task.todo.affinity[0].attribute",
        "is required",
    ),
    (
        "spread targets over 100 percent",
        lambda j: j.task_groups[0].spreads.append(
            Spread("${node.datacenter}", 50, [SpreadTarget("a", 60), SpreadTarget("b", 50)])
        ),
        "job.todo.group.web.spread[0].target",
        "percentages must add up to 100 at most",
    ),
    (
        "spread weight 0",
        lambda j: j.spreads.append(Spread("${node.datacenter}", 0)),
        "job.todo.spread[0].weight",
        "must be from 1 to 100",
    ),
    (
        "negative count",
        lambda j: setattr(j.task_groups[0], "count", -2),
        "job.todo.group.web.count",
        "must be a non-negative integer, got -2",
    ),
    (
        "job id with a slash",
        lambda j: setattr(j, "id", "to/do"),
        "job.to/do",
        "job ID \"to/do\" may contain only letters, digits, '-', '_' and '.', "
        "must start with a letter or digit and be at most 128 characters",
    ),
    ("duplicate group", _dup_group, "job.todo.group.web", 'duplicate group "web"'),
    (
        "port out of range",
        lambda j: setattr(j.task_groups[0].networks[0].ports[0], "static", 65536),
        "job.todo.group.web.network[0].port.http.static",
        "must be a port number between 1 and 65535 (or 0 for a dynamic port), got 65536",
    ),
    (
        "two ports with one static number",
        lambda j: j.task_groups[0].networks[0].ports.extend([Port("a", static=8080), Port("b", static=8080)]),
        "job.todo.group.web.network[0].port.b.static",
        'static port 8080 is also used by port "a"',
    ),
    (
        "service on an undefined port",
        lambda j: j.task_groups[0].services.append(Service(name="x", port="grpc")),
        "job.todo.group.web.service[1].port",
        'port label "grpc" is not defined in any network of the group',
    ),
    (
        "unknown driver",
        lambda j: setattr(j.task_groups[0].tasks[0], "driver", "docker"),
        "job.todo.group.web.task.todo.driver",
        'unknown driver "docker" (known: exec, java, raw_exec)',
    ),
    (
        "raw_exec without command",
        lambda j: setattr(j.task_groups[0].tasks[0], "driver", "raw_exec"),
        "job.todo.group.web.task.todo.config.jar_path",
        'unknown field "jar_path" for the raw_exec driver',
    ),
    (
        "group without tasks",
        lambda j: setattr(j.task_groups[0], "tasks", []),
        "job.todo.group.web",
        "a group needs at least one task",
    ),
    (
        "priority out of range",
        lambda j: setattr(j, "priority", 0),
        "job.todo.priority",
        "must be between 1 and 100, got 0",
    ),
    (
        "task without driver",
        lambda j: j.task_groups[0].tasks.append(Task(name="t2")),
        "job.todo.group.web.task.t2.driver",
        'missing required field "driver"',
    ),
    (
        "http check without path",
        lambda j: setattr(j.task_groups[0].services[0].checks[0], "path", ""),
        "job.todo.group.web.service[0].check[0].path",
        "an http check needs a path",
    ),
    (
        "distinct_property count 0",
        lambda j: j.constraints.append(Constraint("${meta.rack}", "distinct_property", "0")),
        "job.todo.constraint[0].value",
        'must be an allowed count of 1 or more, got "0"',
    ),
    (
        "distinct_property without an attribute",
        lambda j: j.task_groups[0].constraints.append(Constraint("", "distinct_property", "")),
        "job.todo.group.web.constraint[0].attribute",
        "distinct_property needs the attribute whose values are counted",
    ),
    (
        "distinct_property at task level",
        lambda j: (
            j.task_groups[0].tasks[0].constraints.append(Constraint("${meta.rack}", "distinct_property"))
        ),
        "job.todo.group.web.task.todo.constraint[0].operator",
        'disallowed at task level: "distinct_property"',
    ),
    (
        "node pool name",
        lambda j: setattr(j, "node_pool", "no spaces"),
        "job.todo.node_pool",
        'invalid name "no spaces", must match regex ^[a-zA-Z0-9-_]{1,128}$',
    ),
]


def test_examples_are_valid() -> None:
    assert validate(base()) == []


@pytest.mark.parametrize(("change", "path", "message"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_rule(change: Callable[[Job], None], path: str, message: str) -> None:
    job = base()
    change(job)
    found = [(i.path, i.message) for i in validate(job)]
    assert (path, message) in found


@pytest.mark.parametrize(
    ("driver", "config", "refused"),
    [
        ("exec", {"command": "/bin/true"}, False),
        ("raw_exec", {"command": "/bin/true"}, True),
        ("java", {"jar_path": "local/a.jar"}, False),
    ],
)
def test_user_only_for_exec(driver: str, config: dict[str, object], refused: bool) -> None:
    """`user` works for exec and java (their sandbox switches to it); raw_exec, which runs
    tasks as the agent's user, refuses it rather than ignore it."""
    job = base()
    job.task_groups[0].tasks[0] = Task(name="todo", driver=driver, config=config, user="nobody")
    found = [(i.path, i.message) for i in validate(job) if i.path.endswith(".user")]
    want = [
        (
            "job.todo.group.web.task.todo.user",
            f"the {driver} driver cannot run a task as another user (only exec, java can)",
        )
    ]
    assert found == (want if refused else [])
