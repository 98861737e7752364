"""The invariant rules as plain functions of a view (table-driven), and the checker failing
for real when etcd holds a violation: an invariant check that cannot fail proves nothing."""

from __future__ import annotations

import pytest

from reconciler.model.ids import AllocId, NodeId
from reconciler.model.job import Job, TaskGroup, UpdateStrategy
from reconciler.model.objects import (
    Allocation,
    AllocStatus,
    ClientStatus,
    DesiredStatus,
    EvalStatus,
    Evaluation,
    JobRecord,
    Node,
    NodeResources,
    NodeStatus,
)
from reconciler.model.services import ServiceRegistration
from reconciler.store import Store
from tests.faults import rules
from tests.faults.invariants import InvariantChecker
from tests.waiting import wait_for


def alloc(
    i: str, name: str = "web.web[0]", *, node: str = "n1", canary: bool = False, **kw: object
) -> Allocation:
    return Allocation(
        id=AllocId(i),
        namespace="default",
        job_id="web",
        job_version=0,
        task_group="web",
        name=name,
        index=0,
        node_id=NodeId(node),
        canary=canary,
        cpu=100,
        memory=100,
        **kw,  # type: ignore[arg-type]
    )


def view(
    *allocs: Allocation, count: int = 1, canary: int = 0, statuses: dict[str, str] | None = None
) -> rules.View:
    job = Job(
        id="web", task_groups=[TaskGroup(name="web", count=count)], update=UpdateStrategy(canary=canary)
    )
    v = rules.View(
        allocs={a.id: a for a in allocs},
        statuses={
            AllocId(k): AllocStatus(alloc_id=AllocId(k), node_id=NodeId("n1"), client_status=ClientStatus(s))
            for k, s in (statuses or {}).items()
        },
        nodes={"n1": Node(id=NodeId("n1"), name="n1", resources=NodeResources(cpu_mhz=250, memory_mb=1000))},
        jobs={("default", "web"): JobRecord(namespace="default", id="web", version=0, job=job, spec_hash="")},
        versions={("default", "web"): {0}},
    )
    return v


@pytest.mark.parametrize(
    ("v", "found"),
    [
        pytest.param(view(alloc("a")), [], id="one-instance"),
        pytest.param(view(alloc("a"), alloc("b")), ["two live allocations named"], id="same-name-twice"),
        pytest.param(
            view(alloc("a"), alloc("b", desired_status=DesiredStatus.STOP)), [], id="replaced-one-is-stopped"
        ),
        pytest.param(view(alloc("a"), alloc("b"), statuses={"a": "lost"}), [], id="original-lost"),
        pytest.param(view(alloc("a"), alloc("b", canary=True), canary=1), [], id="canary-shares-the-name"),
        pytest.param(
            view(alloc("a", client_status=ClientStatus.UNKNOWN), alloc("b")),
            [],
            id="unknown-and-its-replacement",
        ),
    ],
)
def test_duplicate_names(v: rules.View, found: list[str]) -> None:
    assert [s.split(" '")[0] for s in rules.duplicate_names(v)] == found


@pytest.mark.parametrize(
    ("v", "over"),
    [
        pytest.param(
            view(alloc("a", "w[0]"), alloc("b", "w[1]"), count=1), False, id="count-plus-max-parallel"
        ),
        pytest.param(view(*(alloc(str(i), f"w[{i}]") for i in range(3)), count=1), True, id="one-too-many"),
        pytest.param(
            view(*(alloc(str(i), f"w[{i}]") for i in range(3)), count=1, canary=1), False, id="canary"
        ),
        pytest.param(
            view(*(alloc(str(i), f"w[{i}]", client_status=ClientStatus.UNKNOWN) for i in range(3)), count=1),
            False,
            id="unknown-ones-wait-for-their-node",
        ),
    ],
)
def test_over_count(v: rules.View, over: bool) -> None:
    assert bool(rules.over_count(v)) is over


def test_over_capacity_counts_live_allocations_only() -> None:
    assert rules.over_capacity(view(alloc("a", "w[0]"), alloc("b", "w[1]"))) == []
    three = view(alloc("a", "w[0]"), alloc("b", "w[1]"), alloc("c", "w[2]"), count=3)
    assert rules.over_capacity(three) == ["node n1 given 300 MHz of its 250"]
    three.statuses[AllocId("c")] = AllocStatus(
        alloc_id=AllocId("c"), node_id=NodeId("n1"), client_status=ClientStatus.COMPLETE
    )
    assert rules.over_capacity(three) == []


def test_a_lost_version_and_a_stuck_eval_and_a_dead_target() -> None:
    v = view(alloc("a"))
    assert rules.lost_versions(v) == []
    v.versions[("default", "web")] = set()
    assert rules.lost_versions(v) == ["job default/web is at version 0, whose record is gone"]
    v.evals["e"] = Evaluation(id="e", namespace="default", job_id="web", triggered_by="x", create_time=100.0)
    assert rules.stuck_evals(v, 110.0, within=30) == []
    assert len(rules.stuck_evals(v, 131.0, within=30)) == 1
    v.evals["e"].status = EvalStatus.COMPLETE
    assert rules.stuck_evals(v, 131.0, within=30) == []
    svc = ServiceRegistration(
        id="s",
        service_name="web",
        alloc_id=AllocId("a"),
        namespace="default",
        job_id="web",
        group="web",
        task="",
        node_id=NodeId("n1"),
        address="127.0.0.2",
        port=8080,
    )
    v.services.append(svc)
    assert rules.dead_targets(v, ["127.0.0.2:8080"]) == set()
    assert rules.dead_targets(v, ["127.0.0.2:9090"]) == {"127.0.0.2:9090"}, "no registration stands for it"
    v.nodes["n1"].status = NodeStatus.DISCONNECTED
    assert rules.dead_targets(v, ["127.0.0.2:8080"]) == {"127.0.0.2:8080"}
    v.nodes["n1"].status = NodeStatus.DOWN
    assert rules.dead_targets(v, ["127.0.0.2:8080"]) == {"127.0.0.2:8080"}
    v.nodes["n1"].status = NodeStatus.READY
    v.allocs[AllocId("a")].client_status = ClientStatus.UNKNOWN
    assert rules.dead_targets(v, ["127.0.0.2:8080"]) == {"127.0.0.2:8080"}
    assert rules.stale_routes({"t": 0.0}, 5.0, lease=10) == []
    assert len(rules.stale_routes({"t": 0.0}, 11.0, lease=10)) == 1


def test_the_checker_fails_on_a_violation_written_to_etcd(store: Store) -> None:
    v = view()
    store.put(store.keys.job("default", "web"), v.jobs[("default", "web")])
    store.put(store.keys.job_version("default", "web", 0), v.jobs[("default", "web")])
    with InvariantChecker(store) as checker:
        store.put(store.keys.alloc("a"), alloc("a"))
        store.put(store.keys.alloc("b"), alloc("b"))
        wait_for(lambda: checker.violations, 10, message="the checker to see two instances named web[0]")
    with pytest.raises(AssertionError, match="two live allocations named"):
        checker.assert_clean()
