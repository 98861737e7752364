"""The scheduler's HTTP endpoints over real HTTP (aiohttp server on a free port, real etcd;
fixtures in conftest.py)."""

from __future__ import annotations

import dataclasses

import pytest

import reconciler.spec
from reconciler.cli.client import ApiClient, ApiClientError
from reconciler.model.job import HealthCheck, MigrateStrategy, Port
from reconciler.model.objects import AllocStatus, Node, TaskRunState, TaskState
from reconciler.store import Store
from tests.scheduler.factories import mock_job
from tests.scheduler.sim import add_node, allocs, get_eval, submit, wait_for


def test_allocations_evaluations_summary_and_nodes(api: ApiClient, store: Store) -> None:
    add_node(store, "node-1")
    ev = submit(store, mock_job(2, ports=[Port("http")]))
    wait_for(lambda: get_eval(store, ev).status == "complete", message="placed")
    first = allocs(store, "web")[0]
    store.put(
        store.keys.alloc_status(first.id),
        AllocStatus(alloc_id=first.id, node_id="node-1", client_status="running"),
    )

    stubs = api.get("/v1/job/web/allocations")
    assert len(stubs) == 2
    assert {s["TaskGroup"] for s in stubs} == {"web"}
    assert {s["ClientStatus"] for s in stubs} == {"running", "pending"}
    full = api.get(f"/v1/allocation/{first.id[:8]}")
    assert full["ID"] == first.id
    assert full["AllocatedResources"]["Shared"]["Ports"][0]["Label"] == "http"
    assert len(api.get("/v1/allocations")) == 2

    evs = api.get("/v1/job/web/evaluations")
    assert evs[0]["ID"] == ev
    assert evs[0]["Status"] == "complete"
    assert api.get(f"/v1/evaluation/{ev}")["TriggeredBy"] == "job-register"

    summary = api.get("/v1/job/web/summary")
    assert summary["Summary"]["web"]["Running"] == 1
    assert summary["Summary"]["web"]["Starting"] == 1

    (n,) = api.get("/v1/nodes")
    assert n["ID"] == "node-1"
    assert n["Status"] == "ready"
    assert n["Drivers"]["raw_exec"]["Healthy"]
    assert api.get("/v1/node/node-1")["NodeResources"]["MinDynamicPort"] == 20000
    with pytest.raises(ApiClientError) as err:
        api.get("/v1/allocation/nope")
    assert err.value.status == 404


def test_blocked_evaluation_shows_failure_metrics(api: ApiClient, store: Store) -> None:
    add_node(store, "node-1")
    ev = submit(store, mock_job(2, ports=[Port("http", static=8080)]))
    wait_for(lambda: get_eval(store, ev).status == "blocked", message="blocked")
    e = api.get(f"/v1/evaluation/{ev}")
    assert e["FailedTGAllocs"]["web"]["DimensionExhausted"] == {
        "network: reserved port collision http=8080": 1
    }
    assert e["QueuedAllocations"] == {"web": 1}
    assert api.get("/v1/job/web/summary")["Summary"]["web"]["Queued"] == 1


def test_eligibility_and_drain(api: ApiClient, store: Store) -> None:
    add_node(store, "node-1")
    job = mock_job(2)
    # both move at once, healthy as soon as their task runs (the pure tests cover the waits)
    migrate = MigrateStrategy(max_parallel=2, health_check=HealthCheck.TASK_STATES, min_healthy_time=0)
    job = dataclasses.replace(job, task_groups=[dataclasses.replace(job.task_groups[0], migrate=migrate)])
    ev = submit(store, job)
    wait_for(lambda: get_eval(store, ev).status == "complete", message="placed")
    add_node(store, "node-2")
    api.post("/v1/node/node-2/eligibility", {"Eligibility": "ineligible"})
    assert store.get(store.keys.node("node-2"), Node).value.eligibility == "ineligible"
    with pytest.raises(ApiClientError):
        api.post("/v1/node/node-2/eligibility", {"Eligibility": "maybe"})
    api.post("/v1/node/node-2/eligibility", {"Eligibility": "eligible"})
    on1 = [a for a in allocs(store, "web") if a.node_id == "node-1"]
    out = api.post("/v1/node/node-1/drain", {"DrainSpec": {"Deadline": 0}})
    node = store.get(store.keys.node("node-1"), Node).value
    assert node.drain
    assert node.eligibility == "ineligible"
    assert len(on1) == 2
    assert len(out["EvalIDs"]) == 1
    # replacements are placed first; the drained ones stop once their replacements run
    wait_for(
        lambda: len([a for a in allocs(store, "web") if a.node_id == "node-2"]) == 2, message="replacements"
    )
    assert len(allocs(store, "web")) == 4
    for a in allocs(store, "web"):
        if a.node_id == "node-2":
            store.put(
                store.keys.alloc_status(a.id),
                AllocStatus(
                    alloc_id=a.id,
                    node_id="node-2",
                    client_status="running",
                    task_states={"server": TaskState(state=TaskRunState.RUNNING, started_at=1.0)},
                ),
            )
    wait_for(lambda: all(a.node_id == "node-2" for a in allocs(store, "web")), message="drained")
    assert sorted(a.index for a in allocs(store, "web")) == [0, 1]
    api.post("/v1/node/node-1/drain", {"DrainSpec": None, "MarkEligible": True})
    assert store.get(store.keys.node("node-1"), Node).value.eligibility == "eligible"


def test_scale(api: ApiClient, store: Store) -> None:
    add_node(store, "node-1")
    ev = submit(store, mock_job(1))
    wait_for(lambda: get_eval(store, ev).status == "complete", message="placed")
    out = api.post("/v1/job/web/scale", {"Count": 3, "Target": {"Group": "web"}})
    assert out["EvalID"]
    wait_for(lambda: len(allocs(store, "web")) == 3, message="scaled")
    with pytest.raises(ApiClientError) as err:
        api.post("/v1/job/web/scale", {"Count": 3, "Target": {"Group": "nope"}})
    assert err.value.status == 400


def test_plan(api: ApiClient, store: Store) -> None:
    add_node(store, "node-1")
    job = mock_job(2, ports=[Port("http", static=8080)])
    body = reconciler.spec.job_to_nomad(job)
    before = store.count(store.keys.prefix)
    out = api.post("/v1/job/web/plan", {"Job": body, "Diff": True})
    assert store.count(store.keys.prefix) == before
    assert out["Annotations"]["DesiredTGUpdates"]["web"]["Place"] == 2
    assert out["FailedTGAllocs"]["web"]["DimensionExhausted"] == {
        "network: reserved port collision http=8080": 1
    }


def test_purging_a_node_replaces_its_allocations(api: ApiClient, store: Store) -> None:
    """Nomad's node purge with the scheduler running: the node is forgotten, its job is
    evaluated, and its allocations (now on a node that does not exist: lost) are replaced
    on a node that does."""
    add_node(store, "node-1")
    ev = submit(store, mock_job(2))
    wait_for(lambda: get_eval(store, ev).status == "complete", message="placed")
    add_node(store, "node-2")
    out = api.post("/v1/node/node-1/purge")
    assert len(out["EvalIDs"]) == 1
    assert store.get(store.keys.node("node-1"), Node) is None
    wait_for(lambda: get_eval(store, out["EvalIDs"][0]).status == "complete", message="purge evaluated")
    live = [a for a in allocs(store, "web") if a.desired_status == "run"]
    assert sorted((a.node_id, a.index) for a in live) == [("node-2", 0), ("node-2", 1)]
    evaluated = api.post("/v1/node/node-2/evaluate")
    assert len(evaluated["EvalIDs"]) == 1
    wait_for(lambda: get_eval(store, evaluated["EvalIDs"][0]).status == "complete", message="re-evaluated")
    assert len([a for a in allocs(store, "web") if a.desired_status == "run"]) == 2  # nothing to change
