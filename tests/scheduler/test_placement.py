"""Placement and ranking: decide() end to end on in-memory nodes, plus properties."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from controllers.scheduler.decide import decide
from controllers.scheduler.ports import assign_ports
from controllers.scheduler.rank import anti_affinity_penalty, binpack_score, sample_limit, shuffled
from controllers.scheduler.state import NodeState
from reconciler.model.job import Constraint, Network, Port
from reconciler.model.objects import Allocation
from reconciler.model.plan import describe_failure, failure_heading, scheduler_dry_run
from tests.scheduler.factories import mock_alloc, mock_job, mock_node, nodes_map, with_count

NOW = 1000.0


def test_sample_limit_is_log2_with_a_minimum_of_two() -> None:
    assert [sample_limit(n) for n in (1, 2, 4, 1000, 10000)] == [2, 2, 2, 10, 14]
    assert sample_limit(1000, batch=True) == 2


def test_binpack_prefers_fuller_nodes_and_penalty_spreads() -> None:
    empty, full = (
        NodeState.of(mock_node(cpu=1000, memory=1000)),
        NodeState.of(mock_node(cpu=1000, memory=1000)),
    )
    full.cpu_used, full.mem_used = 800, 800
    assert binpack_score(full, 100, 100) > binpack_score(empty, 100, 100)
    assert anti_affinity_penalty(0, 3) == 0.0
    assert anti_affinity_penalty(1, 4) == -0.5


def test_shuffle_is_replayable_from_the_eval_id() -> None:
    ids = [f"n{i}" for i in range(50)]
    assert shuffled(ids, "e1") == shuffled(ids, "e1")
    assert shuffled(ids, "e1") != shuffled(ids, "e2")


def _decide(job, nodes, allocs=(), eval_id="e1"):
    allocs = list(allocs)
    return decide(job, 0, allocs, allocs, {}, nodes, eval_id=eval_id, now=NOW)


def test_places_every_instance_and_spreads_a_group() -> None:
    nodes = nodes_map(*(mock_node(f"n{i}") for i in range(4)))
    d = _decide(mock_job(8), nodes)
    assert len(d.new_allocs) == 8
    assert not d.failed
    assert max(Counter(a.node_id for a in d.new_allocs).values()) <= 3


def test_static_port_collision_fails_with_words() -> None:
    job = mock_job(2, ports=[Port("http", static=8080)])
    d = _decide(job, nodes_map(mock_node("n1")))
    assert len(d.new_allocs) == 1
    m = d.failed["web"]
    assert failure_heading("web", m) == 'Task Group "web" (failed to place 1 allocation):'
    assert describe_failure(m) == [
        "Resources exhausted on 1 node",
        'Dimension "network: reserved port collision http=8080" exhausted on 1 node',
    ]
    assert d.queued == {"web": 1}


def test_failed_placements_coalesce_and_name_filtered_nodes() -> None:
    job = mock_job(5, constraints=[Constraint("${attr.kernel.name}", "=", "linux")])
    nodes = nodes_map(mock_node("n1", cpu=250), mock_node("n2", attributes={"kernel.name": "windows"}))
    d = _decide(job, nodes)
    assert len(d.new_allocs) == 2
    m = d.failed["web"]
    assert m.coalesced_failures == 2
    assert describe_failure(m) == [
        'Constraint "${attr.kernel.name} = linux": 1 node excluded by filter',
        "Resources exhausted on 1 node",
        'Dimension "cpu" exhausted on 1 node',
    ]
    assert scheduler_dry_run(d.failed)[2] == '  Task Group "web" (failed to place 3 allocations):'


def test_no_node_in_the_datacenter() -> None:
    d = _decide(mock_job(1, datacenters=["dc2"]), nodes_map(mock_node("n1")))
    assert describe_failure(d.failed["web"]) == [
        "No nodes were eligible for evaluation",
        'No nodes are available in datacenter "dc2"',
    ]


def test_dynamic_ports_come_from_the_node_range() -> None:
    job = mock_job(20, ports=[Port("http"), Port("admin")])
    node = mock_node("n1", min_dynamic_port=30000, max_dynamic_port=30100)
    d = _decide(job, nodes_map(node))
    values = [p.value for a in d.new_allocs for p in a.ports]
    assert len(values) == 40
    assert len(set(values)) == 40
    assert all(30000 <= v <= 30100 for v in values)


def test_dynamic_port_range_exhausted() -> None:
    job = mock_job(3, ports=[Port("http")])
    d = _decide(job, nodes_map(mock_node("n1", min_dynamic_port=30000, max_dynamic_port=30001)))
    assert len(d.new_allocs) == 2
    assert 'Dimension "network: dynamic port selection failed" exhausted on 1 node' in describe_failure(
        d.failed["web"]
    )


def test_assign_ports_never_returns_a_used_port() -> None:
    import random

    used = set(range(20000, 20010))
    ports = assign_ports([Network(ports=[Port("a"), Port("b")])], used, 20000, 20011, random.Random(1))
    assert ports is not None
    assert {p.value for p in ports} == {20010, 20011}


def test_system_job_skips_infeasible_nodes_silently() -> None:
    job = mock_job(1, type="system", driver="java")
    nodes = nodes_map(mock_node("n1", drivers={"java": True}), mock_node("n2"))
    d = _decide(job, nodes)
    assert [a.node_id for a in d.new_allocs] == ["n1"]
    assert not d.failed


def test_stops_mark_lost_and_link_replacements() -> None:
    job = with_count(mock_job(1), 1)
    old = mock_alloc(job, 0, node="gone")
    d = _decide(job, nodes_map(mock_node("n1")), [old])
    (new,) = d.new_allocs
    (upd,) = d.updated_allocs
    assert new.previous_allocation == old.id
    assert new.index == 0
    assert upd.desired_status == "stop"
    assert upd.client_status == "lost"
    assert upd.next_allocation == new.id


# --- properties ---------------------------------------------------------------------------


@st.composite
def clusters(draw):
    n = draw(st.integers(1, 6))
    nodes = [
        mock_node(
            f"n{i}",
            cpu=draw(st.integers(200, 3000)),
            memory=draw(st.integers(200, 3000)),
            min_dynamic_port=20000,
            max_dynamic_port=20000 + draw(st.integers(0, 30)),
        )
        for i in range(n)
    ]
    count = draw(st.integers(0, 30))
    static = draw(st.booleans())
    ports = [Port("http", static=8080)] if static else [Port("http"), Port("metrics")]
    job = mock_job(count, cpu=draw(st.integers(50, 500)), memory=draw(st.integers(50, 500)), ports=ports)
    existing = draw(st.integers(0, count))
    return nodes_map(*nodes), job, existing


def _check_invariants(nodes, allocs: list[Allocation]) -> None:
    live = [a for a in allocs if a.desired_status == "run"]
    idx = Counter((a.task_group, a.index) for a in live)
    assert all(v == 1 for v in idx.values()), "two allocations of a group share an index"
    for nid, node in nodes.items():
        on = [a for a in live if a.node_id == nid]
        assert sum(a.cpu for a in on) <= node.resources.cpu_mhz, "node over-committed on cpu"
        assert sum(a.memory for a in on) <= node.resources.memory_mb, "node over-committed on memory"
        ports = [p.value for a in on for p in a.ports]
        assert len(ports) == len(set(ports)), "port collision on a node"


@settings(max_examples=60, deadline=None)
@given(clusters(), st.text("abcdef0123", min_size=1, max_size=8))
def test_properties_hold_across_plans(cluster, eval_id) -> None:
    nodes, job, existing = cluster
    first = decide(with_count(job, existing), 0, [], [], {}, nodes, eval_id=eval_id, now=NOW)
    allocs = list(first.new_allocs)
    _check_invariants(nodes, allocs)
    second = decide(job, 0, allocs, allocs, {}, nodes, eval_id=eval_id + "x", now=NOW)
    changed = {a.id: a for a in second.updated_allocs}
    merged = [changed.get(a.id, a) for a in allocs] + second.new_allocs
    _check_invariants(nodes, merged)
    assert (
        len([a for a in merged if a.desired_status == "run"]) + second.queued.get("web", 0)
        == job.task_groups[0].count
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1200), st.integers(0, 1200), st.integers(0, 3), st.booleans()),
        min_size=1,
        max_size=8,
    ),
    st.booleans(),
)
def test_inlined_select_agrees_with_feasibility_and_rank(usage, static_port) -> None:
    """placer._select inlines (in rank.scan) dynamic_filter and score; it must pick what they pick."""
    import random

    from controllers.scheduler.buckets import AllocPlace
    from controllers.scheduler.feasibility import dynamic_filter
    from controllers.scheduler.group_context import GroupCtx
    from controllers.scheduler.placer import _select
    from controllers.scheduler.rank import score
    from reconciler.model.objects import AllocatedPort
    from reconciler.model.plan import AllocMetric

    job = mock_job(4, cpu=200, memory=200, ports=[Port("http", static=8080)] if static_port else None)
    group = job.task_groups[0]
    states = []
    for i, (cpu_used, mem_used, same_group, port_busy) in enumerate(usage):
        s = NodeState.of(mock_node(f"n{i}", cpu=1200, memory=1200))
        s.cpu_used, s.mem_used = cpu_used, mem_used
        if same_group:
            s.groups[(job.id, group.name)] = same_group
        if port_busy:
            s.ports.add(8080)
        states.append(s)
    static = [(p.label, p.static) for n in group.networks for p in n.ports if p.static]
    ctx = GroupCtx(group, 200, 200, (False, False), states, AllocMetric(), static)
    chosen, metric = _select(job, ctx, AllocPlace("web", "web.web[0]", 0), len(states), random.Random(1))
    fits = [s for s in states if dynamic_filter(job.id, group, s, 200, 200, (False, False)) is None]
    if not fits:
        assert chosen is None
        assert metric is not None
        return
    best = max(score(s, 200, 200, s.groups.get((job.id, group.name), 0), group.count) for s in fits)
    assert chosen is not None
    got = chosen[0]
    assert abs(score(got, 200, 200, got.groups.get((job.id, group.name), 0), group.count) - best) < 1e-9
    assert all(isinstance(p, AllocatedPort) for p in chosen[1])
