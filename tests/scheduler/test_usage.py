"""The cluster usage kept up to date from the caches' changes (controllers/scheduler/usage.py)
against the node states summed from scratch (`build_states`), which it replaces per plan."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controllers.scheduler.controller import SchedulerController
from controllers.scheduler.decide import decide
from controllers.scheduler.state import NodeState, build_states, states_from_usage
from controllers.scheduler.usage import UsageIndex, UsageSnapshot
from reconciler.model.alloc_status import is_terminal
from reconciler.model.ids import AllocId, NodeId
from reconciler.model.job import Port
from reconciler.model.objects import (
    AllocatedPort,
    Allocation,
    AllocStatus,
    ClientStatus,
    DesiredStatus,
    Node,
)
from reconciler.store import Store
from tests.scheduler.factories import mock_job, mock_node, nodes_map, with_count
from tests.scheduler.sim import add_node, get_eval, submit, wait_for
from tests.scheduler.sim import allocs as sim_allocs

NOW = 1_000_000.0
NODES = nodes_map(mock_node("n1"), mock_node("n2", cpu=2000), mock_node("n3", memory=1024))
# "gone" is a node no longer in the cluster: its allocations charge nothing a plan sees


def alloc(
    aid: str,
    node: str = "n1",
    *,
    job: str = "web",
    group: str = "g",
    cpu: int = 100,
    mem: int = 64,
    disk: int = 0,
    ports: Iterable[int] = (),
    desired: str = DesiredStatus.RUN,
    client: str | None = None,
) -> Allocation:
    return Allocation(
        id=AllocId(aid),
        namespace="default",
        job_id=job,
        job_version=0,
        task_group=group,
        name=f"{job}.{group}[0]",
        index=0,
        node_id=NodeId(node),
        ports=[AllocatedPort(f"p{p}", p) for p in ports],
        cpu=cpu,
        memory=mem,
        disk=disk,
        desired_status=desired,
        client_status=client,
    )


def status(aid: str, client: str) -> AllocStatus:
    return AllocStatus(alloc_id=AllocId(aid), node_id=NodeId("n1"), client_status=client, modify_time=0.0)


def from_scratch(
    nodes: Mapping[NodeId, Node],
    allocs: Iterable[Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    stopping: set[str] = frozenset(),  # type: ignore[assignment]
) -> dict[NodeId, NodeState]:
    """What the scheduler computed for each plan before: every live allocation summed."""
    live = [
        a
        for a in allocs
        if a.desired_status == DesiredStatus.RUN and a.id not in stopping and not is_terminal(a, statuses)
    ]
    return build_states(nodes, live)


def incremental(
    nodes: Mapping[NodeId, Node],
    snap: UsageSnapshot,
    stopping: set[str] = frozenset(),  # type: ignore[assignment]
) -> dict[NodeId, NodeState]:
    return states_from_usage(nodes, snap.nodes, (c for i, c in snap.charged.items() if i in stopping))


class Feeds:
    """A `UsageIndex` fed as the two informers feed it: (key, old, new) per change."""

    def __init__(self) -> None:
        self.index = UsageIndex()
        self.allocs: dict[str, Allocation] = {}
        self.statuses: dict[str, AllocStatus] = {}
        self.index.allocs_feed.reset({})
        self.index.statuses_feed.reset({})

    def put(self, a: Allocation) -> None:
        self.index.allocs_feed.change(a.id, self.allocs.get(a.id), a)
        self.allocs[a.id] = a

    def delete(self, aid: str) -> None:
        if aid in self.allocs:
            self.index.allocs_feed.change(aid, self.allocs.pop(aid), None)

    def put_status(self, s: AllocStatus) -> None:
        self.index.statuses_feed.change(s.alloc_id, self.statuses.get(s.alloc_id), s)
        self.statuses[s.alloc_id] = s

    def delete_status(self, aid: str) -> None:
        if aid in self.statuses:
            self.index.statuses_feed.change(aid, self.statuses.pop(aid), None)

    def relist(self) -> None:
        self.index.allocs_feed.reset(dict(self.allocs))
        self.index.statuses_feed.reset(dict(self.statuses))

    def scratch(self, stopping: set[str] = frozenset()) -> dict[NodeId, NodeState]:  # type: ignore[assignment]
        by_id = {AllocId(k): v for k, v in self.statuses.items()}
        return from_scratch(NODES, self.allocs.values(), by_id, stopping)


CASES = [
    ("one allocation", [("put", alloc("a"))], {"n1": (100, 64, [], {("web", "g"): 1})}),
    (
        "two on a node, one on another",
        [("put", alloc("a", ports=[8080])), ("put", alloc("b", cpu=50)), ("put", alloc("c", "n2"))],
        {"n1": (150, 128, [8080], {("web", "g"): 2}), "n2": (100, 64, [], {("web", "g"): 1})},
    ),
    (
        "a port two allocations hold stays used when one goes",
        [("put", alloc("a", ports=[80])), ("put", alloc("b", ports=[80])), ("del", "a")],
        {"n1": (100, 64, [80], {("web", "g"): 1})},
    ),
    ("desired stop gives everything back", [("put", alloc("a")), ("put", alloc("a", desired="stop"))], {}),
    (
        "lost by the scheduler gives back",
        [("put", alloc("a")), ("put", alloc("a", client=ClientStatus.LOST))],
        {},
    ),
    ("complete on the client gives back", [("put", alloc("a")), ("status", status("a", "complete"))], {}),
    (
        "running on the client still charges",
        [("put", alloc("a")), ("status", status("a", "running"))],
        {"n1": (100, 64, [], {("web", "g"): 1})},
    ),
    (
        "a status before its allocation",
        [("status", status("a", "failed")), ("put", alloc("a")), ("put", alloc("b"))],
        {"n1": (100, 64, [], {("web", "g"): 1})},
    ),
    (
        "a status deleted charges again",
        [("put", alloc("a")), ("status", status("a", "failed")), ("delstatus", "a")],
        {"n1": (100, 64, [], {("web", "g"): 1})},
    ),
    (
        "an allocation moved to another node",
        [("put", alloc("a", ports=[9000])), ("put", alloc("a", "n2", ports=[9000]))],
        {"n2": (100, 64, [9000], {("web", "g"): 1})},
    ),
    (
        "groups and jobs counted apart",
        [("put", alloc("a")), ("put", alloc("b", group="h")), ("put", alloc("c", job="api"))],
        {"n1": (300, 192, [], {("web", "g"): 1, ("web", "h"): 1, ("api", "g"): 1})},
    ),
    ("on a node gone from the cluster: nothing", [("put", alloc("a", "gone"))], {}),
]


def apply(f: Feeds, op: str, arg: object) -> None:
    if op == "put":
        assert isinstance(arg, Allocation)
        f.put(arg)
    elif op == "del":
        f.delete(str(arg))
    elif op == "status":
        assert isinstance(arg, AllocStatus)
        f.put_status(arg)
    elif op == "delstatus":
        f.delete_status(str(arg))
    elif op == "relist":
        f.relist()


@pytest.mark.parametrize(("name", "ops", "want"), CASES, ids=[c[0] for c in CASES])
def test_usage_follows_changes(name: str, ops: list[tuple[str, object]], want: dict[str, tuple]) -> None:
    f = Feeds()
    for op, arg in ops:
        apply(f, op, arg)
    got = incremental(NODES, f.index.snapshot("default/web"))
    assert got == f.scratch()
    used = {nid: (s.cpu_used, s.mem_used, sorted(s.ports), s.groups) for nid, s in got.items() if s.jobs}
    assert used == {nid: (c, m, p, g) for nid, (c, m, p, g) in want.items()}


def test_a_plan_gives_back_what_it_stops_and_only_that() -> None:
    f = Feeds()
    f.put(alloc("a", ports=[80]))
    f.put(alloc("b", ports=[80]))
    f.put(alloc("c", job="api", ports=[81]))
    snap = f.index.snapshot("default/web")
    assert sorted(snap.charged) == ["a", "b"]  # only this job's
    got = incremental(NODES, snap, {"a", "c"})  # "c" is not this job's: a plan never stops it
    assert got == f.scratch({"a"})
    assert got["n1"].ports == {80, 81}


def test_a_snapshot_does_not_change_with_later_changes() -> None:
    f = Feeds()
    f.put(alloc("a", ports=[80]))
    snap = f.index.snapshot("default/web")
    before = incremental(NODES, snap)
    f.put(alloc("b", ports=[81]))
    f.delete("a")
    assert incremental(NODES, snap) == before
    assert incremental(NODES, f.index.snapshot()) == f.scratch()


def test_plans_from_usage_place_as_plans_from_every_allocation() -> None:
    """`decide` with the snapshot makes the placements it makes summing the allocations."""
    nodes = nodes_map(*(mock_node(f"n{i}", cpu=1000) for i in range(4)))
    job = mock_job(6, ports=[Port("http", static=8080)], cpu=300)
    other = [alloc(f"o{i}", f"n{i}", job="api", cpu=400, ports=[8080] if i == 1 else []) for i in range(4)]
    mine = dataclasses.replace(other[0], id=AllocId("w0"), job_id="web", name="web.web[0]", task_group="web")
    f = Feeds()
    for a in [*other, mine]:
        f.put(a)
    every = [*other, mine]
    plain = decide(job, 0, [mine], every, {}, nodes, eval_id="e1", now=NOW)
    fast = decide(job, 0, [mine], (), {}, nodes, eval_id="e1", now=NOW, usage=f.index.snapshot("default/web"))

    def where(d: object) -> list[tuple[str, str]]:
        return sorted((a.name, a.node_id) for a in d.new_allocs)  # type: ignore[attr-defined]

    assert where(fast) == where(plain)
    assert fast.failed.keys() == plain.failed.keys()
    assert len(plain.new_allocs) == 2  # n1's 8080 is taken, n0 is full: n2 and n3 take one each
    assert "n1" not in {a.node_id for a in fast.new_allocs}


IDS = ["a", "b", "c", "d", "e"]
ops = st.one_of(
    st.tuples(
        st.just("put"),
        st.builds(
            alloc,
            st.sampled_from(IDS),
            st.sampled_from(["n1", "n2", "n3", "gone"]),
            job=st.sampled_from(["web", "api"]),
            group=st.sampled_from(["g", "h"]),
            cpu=st.integers(0, 500),
            mem=st.integers(0, 500),
            disk=st.integers(0, 300),
            ports=st.lists(st.sampled_from([80, 443, 8080]), max_size=2),
            desired=st.sampled_from([DesiredStatus.RUN, DesiredStatus.RUN, DesiredStatus.STOP, "evict"]),
            client=st.sampled_from([None, None, ClientStatus.LOST]),
        ),
    ),
    st.tuples(st.just("del"), st.sampled_from(IDS)),
    st.tuples(
        st.just("status"),
        st.builds(
            status, st.sampled_from(IDS), st.sampled_from(["pending", "running", "complete", "failed"])
        ),
    ),
    st.tuples(st.just("delstatus"), st.sampled_from(IDS)),
    st.tuples(st.just("relist"), st.none()),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(ops, st.booleans()), max_size=30), st.sets(st.sampled_from(IDS)))
def test_incremental_usage_equals_a_build_from_scratch(
    sequence: list[tuple[tuple[str, object], bool]], stopping: set[str]
) -> None:
    """Random puts, updates and deletes of allocations and statuses, and relists; a plan
    reads at random moments (between two reads, changes may pile up: the index changes
    its sums in place until the next read)."""
    f = Feeds()
    snapshots = []
    for (op, arg), read in [*sequence, (("relist", None), True)]:
        apply(f, op, arg)
        if not read:
            continue
        # a plan of either job, stopping some of its allocations
        for jk in ("default/web", "default/api"):
            snap = f.index.snapshot(jk)
            job_ids = {i for i, a in f.allocs.items() if f"{a.namespace}/{a.job_id}" == jk}
            assert incremental(NODES, snap, stopping) == f.scratch(stopping & job_ids)
        snapshots.append((f.index.snapshot(), f.scratch()))
    for snap, want in snapshots:  # none was changed by the changes after it
        assert incremental(NODES, snap) == want


def test_the_controllers_usage_follows_its_caches_and_frees_what_stops(store: Store) -> None:
    """Against a real etcd: a full node, a job blocked on it, the other job scaled down: the
    blocked one places in the room given back, and the controller's usage is what summing
    its caches gives (statuses included: a completed allocation frees its share)."""
    add_node(store, "n1", cpu=1000)
    ctl = SchedulerController(store)
    ctl.start()
    try:
        a = mock_job(6, id="a", cpu=150)
        ea = submit(store, a)
        wait_for(lambda: get_eval(store, ea).status == "complete", message="a placed")
        eb = submit(store, mock_job(2, id="b", cpu=150))
        wait_for(lambda: get_eval(store, eb).status == "blocked", message="b blocked: n1 is full")
        submit(store, with_count(a, 2), version=1)
        wait_for(lambda: len(sim_allocs(store, "b")) == 2, message="b placed where a was")
        done = sim_allocs(store, "b")[0]
        store.put(store.keys.alloc_status(done.id), status(done.id, ClientStatus.COMPLETE))

        def same() -> bool:
            if ctl.statuses.get(store.keys.alloc_status(done.id)) is None:
                return False  # not arrived yet
            nodes = {n.id: n for n in ctl.nodes.list()}
            by_id = {s.alloc_id: s for s in ctl.statuses.list()}
            return incremental(nodes, ctl.usage.snapshot()) == from_scratch(nodes, ctl.allocs.list(), by_id)

        wait_for(same, message="the usage index agrees with the caches")
        snap = ctl.usage.snapshot("default/b")
        assert done.id not in snap.charged  # complete: its share is free (b replaces it there)
        assert snap.nodes["n1"].cpu == 150 * (2 + len(snap.charged))
    finally:
        ctl.stop()
