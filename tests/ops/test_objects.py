"""Deployment, allocation and node operations against a real etcd: each writes its change
and its evaluation in one transaction, and refuses what the object's state forbids."""

from __future__ import annotations

import dataclasses

import pytest

from reconciler.deployments import DeploymentError
from reconciler.model.objects import Allocation, Deployment, DeploymentStatus, Evaluation, JobRecord, Node
from reconciler.ops.allocs import restart_alloc, stop_alloc
from reconciler.ops.deployments import fail_deployment, pause_deployment, promote_deployment
from reconciler.ops.errors import AllocNotFound, DeploymentNotFound, NodeNotFound, Rejected
from reconciler.ops.jobs import submit_job
from reconciler.ops.nodes import drain, set_eligibility
from reconciler.store import Store
from tests.deployments.factories import deployment
from tests.factories import submitted_job
from tests.scheduler.factories import mock_alloc, mock_node


def eval_of(store: Store, eval_id: str) -> Evaluation:
    got = store.get(store.keys.eval(eval_id), Evaluation)
    assert got is not None
    return got.value


def test_promote_writes_the_deployment_and_an_eval_that_carries_the_job(store: Store) -> None:
    submit_job(store, submitted_job("web"))
    store.put(store.keys.deployment("dep-1"), deployment(canaries=1, placed_canaries=["c1"], healthy=("c1",)))
    upd = promote_deployment(store, "dep-1")
    assert upd.deployment.task_groups["web"].promoted
    ev = eval_of(store, upd.eval_id)
    assert (ev.deployment_id, ev.triggered_by, ev.job_version) == ("dep-1", "deployment-watcher", 0)
    stored = store.get(store.keys.deployment("dep-1"), Deployment)
    assert stored is not None
    assert stored.value.task_groups["web"].promoted
    assert stored.mod_revision == upd.modify_index


def test_pause_resume_and_fail(store: Store) -> None:
    store.put(store.keys.deployment("dep-1"), deployment())
    assert pause_deployment(store, "dep-1", True).deployment.status == DeploymentStatus.PAUSED
    assert pause_deployment(store, "dep-1", False).deployment.status == DeploymentStatus.RUNNING
    assert fail_deployment(store, "dep-1").deployment.status == DeploymentStatus.FAILED
    with pytest.raises(DeploymentError):
        promote_deployment(store, "dep-1")
    with pytest.raises(DeploymentNotFound):
        fail_deployment(store, "nope")


def test_alloc_stop_sets_desired_stop_with_an_eval_in_the_same_revision(store: Store) -> None:
    a = mock_alloc(submitted_job("web"), 0)
    store.put(store.keys.alloc(a.id), a)
    eval_id, revision = stop_alloc(store, a.id)
    got = store.get(store.keys.alloc(a.id), Allocation)
    assert got is not None
    assert got.value.desired_status == "stop"
    assert got.mod_revision == revision
    ev = store.get(store.keys.eval(eval_id), Evaluation)
    assert ev is not None
    assert ev.mod_revision == revision
    assert ev.value.triggered_by == "alloc-stop"
    with pytest.raises(AllocNotFound):
        stop_alloc(store, "nope")
    assert restart_alloc(store, a.id, "server") > revision


def test_drain_fans_out_one_eval_per_running_job_on_the_node(store: Store) -> None:
    store.put(store.keys.node("n1"), mock_node("n1"))
    for job_id, node in [("web", "n1"), ("api", "n1"), ("db", "n2")]:
        a = mock_alloc(submitted_job(job_id), 0, node=node, id=f"{job_id}-0")
        store.put(store.keys.alloc(a.id), a)
    upd = drain(store, "n1", enable=True)
    assert (upd.node.drain, upd.node.eligibility) == (True, "ineligible")
    assert sorted(eval_of(store, e).job_id for e in upd.eval_ids) == ["api", "web"]
    assert {eval_of(store, e).triggered_by for e in upd.eval_ids} == {"node-drain"}
    with pytest.raises(Rejected):
        set_eligibility(store, "n1", "eligible")
    upd = drain(store, "n1", enable=False, mark_eligible=True)
    assert (upd.node.drain, upd.node.eligibility) == (False, "eligible")
    stored = store.get(store.keys.node("n1"), Node)
    assert stored is not None
    assert stored.mod_revision == upd.modify_index


@pytest.mark.parametrize(
    ("node", "value", "error"),
    [("n1", "maybe", Rejected), ("nope", "eligible", NodeNotFound)],
    ids=["bad value", "unknown node"],
)
def test_eligibility_refusals(store: Store, node: str, value: str, error: type[Exception]) -> None:
    store.put(store.keys.node("n1"), mock_node("n1"))
    with pytest.raises(error):
        set_eligibility(store, node, value)


def test_a_node_evaluation_carries_its_jobs_priority_and_type(store: Store) -> None:
    """The scheduler dequeues by evaluation priority (Nomad's broker): a drain's evaluation
    for a priority-80 batch job says so."""
    store.put(store.keys.node("n1"), mock_node("n1"))
    job = dataclasses.replace(submitted_job("etl"), priority=80, type="batch")
    store.put(
        store.keys.job("default", "etl"),
        JobRecord(namespace="default", id="etl", version=0, job=job, spec_hash="x"),
    )
    a = mock_alloc(job, 0, node="n1", id="etl-0")
    store.put(store.keys.alloc(a.id), a)
    (eid,) = drain(store, "n1", enable=True).eval_ids
    ev = eval_of(store, eid)
    assert (ev.priority, ev.type) == (80, "batch")
