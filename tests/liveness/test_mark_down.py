"""Marking nodes down together: how `pack` groups them under etcd's transaction limit,
what `mark_down` writes for a group (pure), and the controller marking many nodes lost at
once in few transactions, one that came back left alone, against a real etcd."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

from controllers.liveness.controller import LivenessController
from controllers.liveness.decide import Down, mark_down, pack
from reconciler import codec
from reconciler.model.objects import Allocation, Evaluation, JobRecord, Node, NodeStatus
from reconciler.store import MAX_TXN_OPS, Keys, Store, Versioned
from tests.scheduler.factories import mock_alloc, mock_job, mock_node
from tests.scheduler.sim import add_node
from tests.waiting import wait_for

KEYS = Keys("/p/")


def down(node_id: str, jobs: list[str], rev: int = 7) -> Down:
    allocs = [mock_alloc(mock_job(1, id=j), 0, node=node_id) for j in jobs]
    return Down.of(Versioned(KEYS.node(node_id), mock_node(node_id), rev), allocs)


def jobs(n: int, start: int = 0) -> list[str]:
    return [f"j{i}" for i in range(start, start + n)]


@pytest.mark.parametrize(
    ("downs", "groups"),
    [
        ([down("a", jobs(3)), down("b", jobs(3)), down("c", jobs(3))], [["a", "b", "c"]]),
        ([down(f"n{i:02d}", jobs(40)) for i in range(44)], [[f"n{i:02d}" for i in range(44)]]),
        ([down(f"n{i:02d}", jobs(40)) for i in range(45)], [[f"n{i:02d}" for i in range(44)], ["n44"]]),
        ([down("a", jobs(63)), down("b", jobs(63, 63))], [["a"], ["b"]]),
        ([down("big", jobs(200)), down("small", jobs(1))], [["big"], ["small"]]),
        ([], []),
    ],
    ids=[
        "three nodes in one transaction",
        "44 nodes sharing 40 jobs: 128 operations, one transaction",
        "a 45th node does not fit: a second transaction",
        "distinct jobs that do not fit together: one each",
        "a node whose jobs alone overflow is a group of its own",
        "nothing down",
    ],
)
def test_pack(downs: list[Down], groups: list[list[str]]) -> None:
    assert [[d.node.value.id for d in g] for g in pack(downs)] == groups


def test_mark_down_writes_each_node_guarded_and_one_evaluation_per_job() -> None:
    group = [down("a", ["web", "db"], rev=5), down("b", ["web"], rev=9)]
    first, *rest = mark_down(KEYS, group, now=100.0)
    assert rest == []
    assert first.compares == [(KEYS.node("a"), 5), (KEYS.node("b"), 9)]
    puts = {k: v for k, v, _ in first.puts}
    assert {k for k in puts if k.startswith(KEYS.nodes)} == {KEYS.node("a"), KEYS.node("b")}
    evals = [e for e in first.puts if e[0].startswith(KEYS.evals)]
    assert len(evals) == 2  # web (on both nodes) and db: one evaluation each


def test_mark_down_evaluations_carry_their_jobs_priority_and_type() -> None:
    """The scheduler takes evaluations by priority: a node-down one has its job's (50, a
    service, for a job with no record, as Nomad's default)."""
    group = [down("a", ["web", "batchy", "gone"])]
    records: dict[tuple[str, str], JobRecord | None] = {
        ("default", "web"): JobRecord("default", "web", 4, mock_job(1, id="web", priority=90), "h"),
        ("default", "batchy"): JobRecord("default", "batchy", 0, mock_job(1, id="batchy", type="batch"), "h"),
        ("default", "gone"): None,
    }
    (first,) = mark_down(KEYS, group, now=100.0, records=records)
    written = [codec.decode(v, Evaluation) for k, v, _ in first.puts if k.startswith(KEYS.evals)]
    got = {e.job_id: (e.priority, e.type, e.job_version) for e in written}
    assert got == {"web": (90, "service", 4), "batchy": (50, "batch", 0), "gone": (50, "service", 0)}


def test_mark_down_writes_each_node_its_own_status() -> None:
    """A disconnected node (an allocation on it may wait) and a down one in one group: each
    node record gets its own status, the shared job's evaluation names both."""
    group = [
        dataclasses.replace(down("aaa", ["web"]), status=NodeStatus.DISCONNECTED),
        down("bbb", ["web", "db"]),
    ]
    first, *rest = mark_down(KEYS, group, now=100.0)
    assert rest == []
    puts = {k: json.loads(v) for k, v, _ in first.puts}
    assert puts[KEYS.node("aaa")]["status"] == "disconnected"
    assert puts[KEYS.node("bbb")]["status"] == "down"
    evals = {v["job_id"]: v for k, v in puts.items() if k.startswith(KEYS.evals)}
    assert evals["web"]["status_description"] == "nodes aaa is disconnected; bbb is down"
    assert evals["web"]["node_id"] == ""
    assert (evals["db"]["status_description"], evals["db"]["node_id"]) == ("node bbb is down", "bbb")


def test_mark_down_overflows_evaluations_past_the_limit() -> None:
    first, *rest = mark_down(KEYS, [down("big", jobs(200))], now=100.0)
    assert len(first) == MAX_TXN_OPS
    assert sum(len(t.puts) for t in [first, *rest]) == 1 + 200


def test_many_nodes_lost_at_once_are_marked_down_together(store: Store) -> None:
    leases = {}
    for i in range(20):
        _, leases[f"n{i:02d}"] = add_node(store, f"n{i:02d}", ttl=60)
    job = mock_job(20, priority=70)
    store.put(store.keys.job("default", job.id), JobRecord("default", job.id, 2, job, "h"))
    for i in range(20):
        a = mock_alloc(job, i, node=f"n{i:02d}")
        store.put(store.keys.alloc(a.id), a)
    dead = [f"n{i:02d}" for i in range(10)]
    for nid in dead:  # ten agents die before the (first) sweep
        leases[nid].revoke()  # type: ignore[attr-defined]
    revision = store.revision()
    live = LivenessController(store, grace=0.0, sweep_every=3600)
    live.start()
    try:
        wait_for(
            lambda: all(live.nodes.get(store.keys.node(n)).status == "down" for n in dead),  # type: ignore[union-attr]
            timeout=30,
            message="10 nodes down",
        )
        wait_for(live.queue.idle, message="the sweeps done")
    finally:
        live.stop()
    nodes = {n: store.get(store.keys.node(n), Node) for n in (f"n{i:02d}" for i in range(20))}
    assert {n for n, v in nodes.items() if v and v.value.status == "down"} == set(dead)
    assert len({v.mod_revision for n, v in nodes.items() if v and n in dead}) == 1  # one transaction
    evals, _ = store.list(store.keys.evals, Evaluation)
    new = [e.value for e in evals if e.mod_revision > revision]
    # one job on all ten nodes: one evaluation (one per node, as before, is ten)
    assert len(new) == 1, [e.status_description for e in new]
    assert new[0].job_id == job.id
    assert new[0].triggered_by == "node-update"
    assert (new[0].priority, new[0].job_version) == (70, 2)  # from the liveness jobs cache
    allocs, _ = store.list(store.keys.allocs, Allocation)
    assert len(allocs) == 20


def test_a_node_that_came_back_fails_only_itself(store: Store) -> None:
    t = time.time() - 60
    for nid in ("a", "b", "c"):
        store.put(store.keys.node(nid), mock_node(nid, create_time=t, modify_time=t))
    live = LivenessController(store, grace=0.0, sweep_every=3600)
    read = {n: store.get(store.keys.node(n), Node) for n in "abc"}
    # b changes after it was read (its agent re-registered): the group's transaction fails
    back = read["b"]
    assert back is not None
    store.put(store.keys.node("b"), back.value)
    group = [Down(v, frozenset()) for v in read.values() if v is not None]
    assert live._mark_all(group, now=time.time()) == ["b"]
    got = {n: store.get(store.keys.node(n), Node) for n in "abc"}
    assert {n: v.value.status for n, v in got.items() if v} == {"a": "down", "b": "ready", "c": "down"}
