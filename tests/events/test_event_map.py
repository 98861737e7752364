"""The event stream's pure decisions, table-driven: the type a revision's changes make, the
events and their keys, Nomad's `topic=` syntax and the subscription filter."""

from __future__ import annotations

import dataclasses

import pytest

from reconciler.api.event_map import (
    Change,
    Event,
    Topic,
    events_for,
    parse_topics,
    revision_type,
    wanted,
)
from reconciler.model.ids import AllocId, DeploymentId, EvalId, NodeId
from reconciler.model.objects import (
    Allocation,
    AllocStatus,
    ClientStatus,
    Deployment,
    DeploymentGroupState,
    DeploymentStatus,
    Evaluation,
    JobRecord,
    Node,
    NodeEligibility,
)
from reconciler.model.services import ServiceRegistration
from tests.factories import submitted_job

RECORD = JobRecord(namespace="default", id="todo", version=0, job=submitted_job("todo"), spec_hash="h")
STOPPED = dataclasses.replace(RECORD, version=1, stop=True)
ALLOC = Allocation(
    id=AllocId("a1"),
    namespace="default",
    job_id="todo",
    job_version=0,
    task_group="web",
    name="todo.web[0]",
    index=0,
    node_id=NodeId("n1"),
    deployment_id=DeploymentId("d1"),
)
STATUS = AllocStatus(alloc_id=AllocId("a1"), node_id=NodeId("n1"), client_status=ClientStatus.RUNNING)
EVAL = Evaluation(id=EvalId("e1"), namespace="default", job_id="todo", triggered_by="job-register")
DEP = Deployment(
    id=DeploymentId("d1"),
    namespace="default",
    job_id="todo",
    job_version=0,
    task_groups={"web": DeploymentGroupState(desired_canaries=1)},
)
PROMOTED = dataclasses.replace(
    DEP, task_groups={"web": DeploymentGroupState(desired_canaries=1, promoted=True)}
)
HEALTHIER = dataclasses.replace(DEP, healthy_alloc_ids=["a1"])
SUCCESSFUL = dataclasses.replace(DEP, status=DeploymentStatus.SUCCESSFUL)
NODE = Node(id=NodeId("n1"), name="node-1")
INELIGIBLE = dataclasses.replace(NODE, eligibility=NodeEligibility.INELIGIBLE)
SERVICE = ServiceRegistration(
    id="_nomad-task-a1-web-todo-http",
    service_name="todo",
    alloc_id=AllocId("a1"),
    namespace="default",
    job_id="todo",
    group="web",
    task="",
    node_id=NodeId("n1"),
)
GUARD = Change("sched_guard")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param(
            [Change("jobs", None, RECORD), Change("evals", None, EVAL)], "JobRegistered", id="job-new"
        ),
        pytest.param([Change("jobs", RECORD, STOPPED)], "JobDeregistered", id="job-stop"),
        pytest.param([Change("jobs", RECORD, None)], "JobDeregistered", id="job-purge"),
        pytest.param(
            [GUARD, Change("allocs", None, ALLOC), Change("evals", EVAL, EVAL)], "PlanResult", id="plan"
        ),
        pytest.param([Change("allocs", ALLOC, ALLOC)], "AllocationUpdateDesiredStatus", id="alloc-stop"),
        pytest.param([Change("alloc_status", None, STATUS)], "AllocationUpdated", id="client-update"),
        pytest.param([Change("deployments", DEP, SUCCESSFUL)], "DeploymentStatusUpdate", id="deployment"),
        pytest.param([Change("deployments", DEP, PROMOTED)], "DeploymentPromotion", id="promotion"),
        pytest.param([Change("deployments", DEP, HEALTHIER)], "DeploymentAllocHealth", id="alloc-health"),
        pytest.param([Change("nodes", None, NODE)], "NodeRegistration", id="node-new"),
        pytest.param(
            [Change("nodes", NODE, INELIGIBLE), Change("evals", None, EVAL)], "NodeDrain", id="node-elig"
        ),
        pytest.param([Change("nodes", NODE, NODE)], "NodeStreamEvent", id="node-update"),
        pytest.param([Change("nodes", NODE, None)], "NodeDeregistration", id="node-gone"),
        pytest.param([Change("services", None, SERVICE)], "ServiceRegistration", id="service-new"),
        pytest.param([Change("services", SERVICE, None)], "ServiceDeregistration", id="service-gone"),
        pytest.param([Change("evals", EVAL, EVAL)], "EvaluationUpdated", id="eval"),
        pytest.param([Change("allocs", ALLOC, None), Change("alloc_status", STATUS, None)], None, id="gc"),
    ],
)
def test_revision_type(changes: list[Change], expected: str | None) -> None:
    assert revision_type(changes) == expected


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param(
            [Change("jobs", None, RECORD), Change("evals", None, EVAL)],
            [(Topic.JOB, "JobRegistered", "todo", ()), (Topic.EVALUATION, "JobRegistered", "e1", ("todo",))],
            id="job-and-its-eval",
        ),
        pytest.param(
            [GUARD, Change("allocs", None, ALLOC)],
            [(Topic.ALLOCATION, "PlanResult", "a1", ("todo", "d1"))],
            id="plan-no-marker-event",
        ),
        pytest.param(
            [Change("alloc_status", None, STATUS)],
            [(Topic.ALLOCATION, "AllocationUpdated", "a1", ("todo", "d1"))],
            id="status-joined",
        ),
        pytest.param(
            [Change("services", SERVICE, None)],
            [(Topic.SERVICE, "ServiceDeregistration", SERVICE.id, ("todo", "todo"))],
            id="service-delete",
        ),
        pytest.param([Change("nodes", None, NODE)], [(Topic.NODE, "NodeRegistration", "n1", ())], id="node"),
        pytest.param([Change("evals", EVAL, None)], [], id="eval-gc"),
    ],
)
def test_events_for(changes: list[Change], expected: list[tuple[Topic, str, str, tuple[str, ...]]]) -> None:
    got = events_for(changes, 42, {"a1": ALLOC}, {})
    assert [(e.topic, e.type, e.key, e.filter_keys) for e in got] == expected


def test_an_allocation_event_carries_its_client_status_and_the_index() -> None:
    (ev,) = events_for([Change("alloc_status", None, STATUS)], 42, {"a1": ALLOC}, {"a1": STATUS})
    out = ev.to_json(42)
    assert out["Index"] == 42
    assert out["Namespace"] == "default"
    assert out["Payload"]["Allocation"]["ID"] == "a1"
    assert out["Payload"]["Allocation"]["ClientStatus"] == "running"


def test_a_status_whose_allocation_is_unknown_makes_no_event() -> None:
    assert events_for([Change("alloc_status", None, STATUS)], 42, {}, {}) == []


def test_a_job_event_has_the_job_in_nomads_shape() -> None:
    (ev,) = events_for([Change("jobs", None, RECORD)], 7, {}, {})
    job = ev.to_json(7)["Payload"]["Job"]
    assert job["ID"] == "todo"
    assert job["ModifyIndex"] == 7
    assert job["TaskGroups"][0]["Name"] == "web"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([], {"*": ["*"]}, id="none-is-all"),
        pytest.param(["Job"], {"Job": ["*"]}, id="topic-alone"),
        pytest.param(["Job:todo", "Job:web", "Node:*"], {"Job": ["todo", "web"], "Node": ["*"]}, id="keys"),
        pytest.param(["*:todo"], {"*": ["todo"]}, id="any-topic"),
    ],
)
def test_parse_topics(values: list[str], expected: dict[str, list[str]]) -> None:
    assert parse_topics(values) == expected


@pytest.mark.parametrize("value", ["Job:a:b", ":todo", "Job:", ""])
def test_parse_topics_refuses(value: str) -> None:
    with pytest.raises(ValueError, match="invalid topic"):
        parse_topics([value])


def _event(topic: Topic, key: str, ns: str = "default", filter_keys: tuple[str, ...] = ()) -> Event:
    return Event(topic, "T", key, ns, filter_keys, {})


@pytest.mark.parametrize(
    ("event", "topics", "namespace", "expected"),
    [
        pytest.param(_event(Topic.JOB, "todo"), {"*": ["*"]}, "default", True, id="all"),
        pytest.param(_event(Topic.JOB, "todo"), {"Job": ["todo"]}, "default", True, id="key"),
        pytest.param(_event(Topic.JOB, "todo"), {"Job": ["web"]}, "default", False, id="other-key"),
        pytest.param(_event(Topic.JOB, "todo"), {"Allocation": ["*"]}, "default", False, id="other-topic"),
        pytest.param(
            _event(Topic.ALLOCATION, "a1", filter_keys=("todo",)),
            {"Allocation": ["todo"]},
            "default",
            True,
            id="filter-key",
        ),
        pytest.param(_event(Topic.JOB, "todo", "prod"), {"*": ["*"]}, "default", False, id="other-ns"),
        pytest.param(_event(Topic.JOB, "todo", "prod"), {"*": ["*"]}, "*", True, id="every-ns"),
        pytest.param(_event(Topic.NODE, "n1", ""), {"Node": ["*"]}, "prod", True, id="node-no-ns"),
        pytest.param(_event(Topic.JOB, "todo"), {"*": ["todo"]}, "default", True, id="any-topic-key"),
    ],
)
def test_wanted(event: Event, topics: dict[str, list[str]], namespace: str, expected: bool) -> None:
    assert wanted(event, topics, namespace) is expected
